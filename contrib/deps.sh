#!/bin/sh
# Installs the Debian 12 packages nightshift needs to build, run its demo,
# run its tests and its benchmarks. Idempotent: packages already present are
# skipped. As root it runs apt-get; otherwise it prints the exact command.
#
#   contrib/deps.sh            build + demo + tests
#   contrib/deps.sh --demo     only what building and the demo need
#   contrib/deps.sh --bench    also what the benchmarks use
set -eu

BUILD="make gcc pkg-config libwebsockets-dev libcurl4-openssl-dev libcjson-dev \
libsqlite3-dev sqlite3 libpcre2-dev libyaml-dev libssl-dev tzdata"
TEST="curl prometheus-alertmanager clang libclang-rt-14-dev valgrind procps openssl python3"
BENCH="wrk"

want="$BUILD $TEST"
[ "${1:-}" = "--demo" ] && want="$BUILD"
# kubectl validates the simulated cluster. Debian's is kubernetes-client; a
# kubectl already on PATH (e.g. from Google's repository) is kept as it is.
[ "${1:-}" != "--demo" ] && ! command -v kubectl >/dev/null 2>&1 && want="$want kubernetes-client"
[ "${1:-}" = "--bench" ] && want="$want $BENCH"

missing=""
for p in $want; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

echo "deps: missing Debian packages:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: run as root:  apt-get update && apt-get install -y --no-install-recommends$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Refresh the lists only when they are missing or stale (older than a day).
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -n1)" ]; then
	apt-get update -qq >&2
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
