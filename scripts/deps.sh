#!/bin/sh
# Install the Debian 12 packages tally needs, only those that are missing.
# Usage: scripts/deps.sh build|check|demo|bench
set -eu
build="make gcc pkg-config libevent-dev libssl-dev liblmdb-dev libprotobuf-c-dev
protobuf-c-compiler libusb-1.0-0-dev libinih-dev libjansson-dev openssl
umockdev libumockdev-dev libglib2.0-dev libsystemd-dev"
check="libcmocka-dev lmdb-utils chromium fonts-dejavu-core systemd clang libclang-rt-14-dev"
case "${1:-build}" in
build|demo|bench) want="$build" ;;
check) want="$build $check" ;;
*) echo "usage: $0 build|check|demo|bench" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing Debian packages:$missing (run as root, or: apt-get install$missing)" >&2
	exit 2
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends $missing >&2
