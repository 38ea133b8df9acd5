#!/bin/sh
# run.sh: the `make run` job for now: the demo garage (assets/demo/garage.conf, 40 locks)
# in parklockd, in the foreground, until Ctrl-C.
#
# Usage: sh assets/demo/run.sh BINDIR     (from the top of the source tree)
#
# It makes run/ and, the first time, a demo site key pair: run/site.key (the private key,
# PKCS#8 PEM, mode 0600, for whatever signs the demo's management messages) and
# run/site.pub (the public key as parklockd reads it: one line of 128 hex digits, the
# P-256 point X || Y). The key server takes this job over when it exists. Delete run/ to
# start again from factory-fresh locks.
set -eu

bindir=${1:?usage: run.sh BINDIR}
conf=assets/demo/garage.conf
if [ ! -f "$conf" ]; then
	echo "run.sh: run me from the top of the source tree (no $conf here)" >&2
	exit 1
fi
if [ ! -x "$bindir/parklockd" ]; then
	echo "run.sh: no $bindir/parklockd; build it with make first" >&2
	exit 1
fi

mkdir -p run
chmod 700 run

if [ ! -f run/site.key ]; then
	if ! command -v openssl >/dev/null 2>&1; then
		echo "run.sh: openssl is needed for the demo site key: apt-get install openssl" >&2
		exit 1
	fi
	echo "run.sh: making a demo site key pair in run/site.key and run/site.pub"
	(
		umask 077
		openssl ecparam -name prime256v1 -genkey -noout |
			openssl pkey -out run/site.key.new
	)
	mv run/site.key.new run/site.key
fi

# The public point, from the key every time, so that the two files always agree. The DER
# SubjectPublicKeyInfo of a P-256 key is 91 bytes ending in 04 || X || Y: keep the last 64.
der_hex=$(openssl pkey -in run/site.key -pubout -outform DER |
	od -An -v -tx1 | tr -d ' \n')
if [ "${#der_hex}" -ne 182 ]; then
	echo "run.sh: run/site.key is not a P-256 key; delete run/ and run me again" >&2
	exit 1
fi
printf '%s\n' "$(printf '%s' "$der_hex" | cut -c 55-182)" >run/site.pub.new
mv run/site.pub.new run/site.pub

world=run/locks/world.sock
if command -v socat >/dev/null 2>&1; then
	poke="echo '101 state' | socat - UNIX-CONNECT:$world"
elif command -v nc >/dev/null 2>&1 && nc -h 2>&1 | grep -q -- '-U'; then
	poke="echo '101 state' | nc -N -U $world"
else
	poke="python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall((sys.argv[2]+\"\\n\").encode()); print(s.makefile().readline(), end=\"\")' $world '101 state'"
fi
cat <<EOF
run.sh: starting the demo garage: 40 locks, spots 101-120 (B1-01..B1-20) and 201-220
(B2-01..B2-20). Each lock's radio is run/locks/SPOT.sock; each lock's device public key is
in run/locks/SPOT.pub. Poke the world from another terminal, e.g.:

  $poke

Commands: 'SPOT state', 'SPOT car present', 'SPOT car absent', 'SPOT battery N',
'SPOT jam', 'SPOT unjam', 'SPOT force', 'SPOT power-cut', 'SPOT pubkey', 'SPOT reboot',
'list', 'help' (see lockfw/host/WORLD.md). Stop with Ctrl-C.

EOF
exec "$bindir/parklockd" "$conf"
