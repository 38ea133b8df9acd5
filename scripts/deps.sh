#!/bin/sh
# deps.sh: installs the Debian packages a make target needs, when they are missing.
#
# Usage: scripts/deps.sh GROUP...   (groups: build test fuzz bench run)
# Idempotent and non-interactive: it asks dpkg what is installed and calls apt-get only
# for what is missing. As a non-root user it prints the command to run instead and fails.
set -eu

pkgs_build="gcc make pkg-config libssl-dev libcmocka-dev libmicrohttpd-dev libjson-c-dev libsqlite3-dev libcurl4-openssl-dev libargon2-dev libsystemd-dev libncurses-dev gettext libqrencode-dev"
pkgs_test="$pkgs_build dbus tmux libxml2-utils locales"
pkgs_fuzz="clang libclang-rt-14-dev"
pkgs_bench="valgrind binutils gcc-arm-none-eabi libnewlib-arm-none-eabi tmux"
pkgs_run="$pkgs_build openssl curl socat"

want=""
for group in "$@"; do
	case "$group" in
	build) want="$want $pkgs_build" ;;
	test) want="$want $pkgs_test" ;;
	fuzz) want="$want $pkgs_fuzz" ;;
	bench) want="$want $pkgs_bench" ;;
	run) want="$want $pkgs_run" ;;
	*) echo "deps.sh: unknown group '$group' (build, test, fuzz, bench, run)" >&2; exit 2 ;;
	esac
done

missing=""
for p in $want; do
	case " $missing " in *" $p "*) continue ;; esac
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing Debian packages:$missing" >&2
	echo "deps.sh: install them as root: apt-get install -y$missing" >&2
	exit 1
fi
echo "deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# An old or empty package list makes apt-get fail to find packages: refresh once first.
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
