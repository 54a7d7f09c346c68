#!/usr/bin/env bash
# This file contains the suite's entry for the Slack test double's own
# self-test (tests/doubles/slack/selftest.sh), run on the binaries the
# Makefile builds (build/slackdouble/), so the double the Slack tests rely on
# is checked first.
cd "$(dirname "$0")/../.." || exit 2
SD_BIN_DIR=${SD_BIN_DIR:-build/slackdouble} exec bash tests/doubles/slack/selftest.sh
