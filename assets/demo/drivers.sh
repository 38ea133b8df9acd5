#!/bin/sh
# drivers.sh: one simulated driver of the demo garage, so that the garage on the
# console is alive: with its own parkphoned (already running and logged in), it gets a
# key for a free spot, then again and again drives in (unlock over the sim transport;
# the car then stands over the spot: world control), stays a while, drives away, and
# locks the spot behind it.
#
# Usage: sh assets/demo/drivers.sh BINDIR SOCKET SPOT...   (from the top of the tree)
# It tries the spots in the order given until one gives it a key. Stops on SIGTERM.
set -u

bindir=$1
sock=$2
shift 2
ctl() { "$bindir/parkctl" --socket "$sock" "$@" >/dev/null 2>&1; }
world() { printf '%s\n' "$1" | socat - UNIX-CONNECT:run/locks/world.sock >/dev/null 2>&1; }
pause() { sleep "$(( $1 + $(od -An -N1 -tu1 /dev/urandom) % $2 ))"; }

trap 'exit 0' INT TERM
spot=""
while [ -z "$spot" ]; do
	for s in "$@"; do
		if ctl key "$s"; then
			spot=$s
			break
		fi
	done
	[ -n "$spot" ] || pause 5 10
done

while :; do
	pause 3 12
	ctl unlock "$spot" || continue
	pause 1 3
	world "$spot car present"
	pause 10 30
	world "$spot car absent"
	pause 1 3
	ctl lock "$spot"
done
