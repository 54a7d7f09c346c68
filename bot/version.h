/* This file contains the version string, bumped with each release. */
#ifndef NIGHTSHIFT_VERSION_H
#define NIGHTSHIFT_VERSION_H
#define NIGHTSHIFT_VERSION "0.1.0"
#endif
