#!/bin/sh
# run.sh: `make run`: the demo garage as a whole system on this machine: the key server
# parkd (HTTPS with a local CA of its own, SQLite), 40 simulated locks in parklockd
# (assets/demo/garage.conf) and two gateways parkgw, with the demo site
# (assets/demo/site.json) imported and the locks provisioned as an installer would; a
# demo attendant; four simulated drivers, each with a phone (parkphoned) and a car, who
# get keys, unlock, park and leave (assets/demo/drivers.sh); then the operator console
# parkconsole in the foreground, logged in as the attendant. Quitting the console stops
# everything. With HEADLESS=1 there is no console: it prints the addresses and accounts
# and runs until SIGINT or SIGTERM.
#
# Usage: [HEADLESS=1] sh assets/demo/run.sh BINDIR     (from the top of the source tree)
# Everything lives under run/; delete it to start again from factory-fresh locks.
set -eu

bindir=${1:?usage: run.sh BINDIR}
port=${PARK_DEMO_PORT:-8443}
url=https://127.0.0.1:$port
admin_phone=+8613800000000
admin_password=demo-admin-pass
attendant_phone=+8613800000001
attendant_password=demo-attendant-pass
driver_password=demo-driver-pass
headless=${HEADLESS:-0}
pids=""

say() { printf 'run.sh: %s\n' "$*"; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

[ -f assets/demo/garage.conf ] || die "run me from the top of the source tree"
for p in parkd parkgw parklockd parkphoned parkctl; do
	[ -x "$bindir/$p" ] || die "no $bindir/$p; build it with make first"
done
for c in openssl curl socat; do
	command -v "$c" >/dev/null 2>&1 || die "$c is needed: apt-get install $c"
done

stop_all() {
	trap - INT TERM EXIT
	[ -n "$pids" ] && kill $pids 2>/dev/null
	[ -n "$pids" ] && wait $pids 2>/dev/null
	say "stopped"
}
trap stop_all EXIT
trap 'exit 0' INT TERM

start() { # name, command...: starts in the background, logging to run/NAME.log
	name=$1
	shift
	"$@" >>"run/$name.log" 2>&1 &
	pids="$pids $!"
}

wait_for() { # what, test command...
	what=$1
	shift
	i=0
	until "$@" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || die "$what did not come up; see run/*.log"
		sleep 0.1
	done
}

mkdir -p run/tls run/gw1 run/gw2 run/phones
chmod 700 run

# A local CA that only this demo's clients trust, and a certificate for 127.0.0.1.
if [ ! -f run/tls/server.pem ]; then
	say "making a local CA and a server certificate in run/tls/"
	(
		umask 077
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout run/tls/ca.key -out run/tls/ca.pem -days 365 \
			-subj "/CN=Shared parking demo CA" 2>/dev/null
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout run/tls/server.key -out run/tls/server.csr \
			-subj "/CN=127.0.0.1" 2>/dev/null
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >run/tls/san.ext
		openssl x509 -req -in run/tls/server.csr -CA run/tls/ca.pem -CAkey run/tls/ca.key \
			-CAcreateserial -out run/tls/server.pem -days 365 \
			-extfile run/tls/san.ext 2>/dev/null
	)
fi

cat >run/parkd.conf <<EOF
listen = 127.0.0.1:$port
data_dir = run/parkd
tls_cert = run/tls/server.pem
tls_key = run/tls/server.key
sms_sender = file:run/sms.log
notify_hook = file:run/notify.log
EOF

api() { # method, path, [body]: the reply body on stdout; fails on an HTTP error
	curl -sS --fail-with-body --cacert run/tls/ca.pem -X "$1" \
		-H "Authorization: Bearer ${token:-none}" -H 'Content-Type: application/json' \
		${3:+--data-binary "$3"} "$url$2"
}
json_get() { sed -n "s/.*\"$1\" *: *\"\\{0,1\\}\\([^\",}]*\\).*/\\1/p"; }

# 1. The locks, factory-fresh the first time: they make their device keys.
grep -v '^site-key' assets/demo/garage.conf >run/garage-factory.conf
if [ ! -f run/site.pub ]; then
	start parklockd "$bindir/parklockd" run/garage-factory.conf
	wait_for "parklockd" test -S run/locks/world.sock -a -f run/locks/220.pub
	kill $pids && wait $pids 2>/dev/null || true
	pids=""
fi

# 2. The gateways' keys, for the site description.
"$bindir/parkgw" --server "$url" --data-dir run/gw1 --id 1 --print-key >run/gw1/gateway.pub
"$bindir/parkgw" --server "$url" --data-dir run/gw2 --id 2 --print-key >run/gw2/gateway.pub

# 3. The key server, its first admin, the demo site.
mkdir -p run/parkd
if [ ! -f run/parkd/parkd.db ]; then
	printf '%s\n' "$admin_password" |
		"$bindir/parkd" --config run/parkd.conf admin-create "$admin_phone" >/dev/null
fi
start parkd "$bindir/parkd" --config run/parkd.conf
wait_for "parkd" curl -s -o /dev/null --cacert run/tls/ca.pem "$url/metrics"
token=$(api POST /v1/sessions "{\"phone\":\"$admin_phone\",\"password\":\"$admin_password\"}" |
	json_get token)
[ -n "$token" ] || die "could not log in as the demo admin; see run/parkd.log"
if ! api GET /v1/sites/1 >/dev/null 2>&1; then
	sh scripts/site-fill.sh assets/demo/site.json run/locks run/gw1/gateway.pub \
		run/gw2/gateway.pub >run/site.json
	api POST /v1/sites "$(cat run/site.json)" >/dev/null || die "the demo site was refused"
	say "imported the demo site"
fi

# 4. Provision the locks with the site's key, as the installer does, and run them.
site_pub=$(api GET /v1/sites/1/provisioning | json_get site_public_key | head -n 1)
[ "${#site_pub}" -eq 128 ] || die "no site public key in the provisioning data"
printf '%s\n' "$site_pub" >run/site.pub
start parklockd "$bindir/parklockd" assets/demo/garage.conf
wait_for "parklockd" test -S run/locks/world.sock

# 5. The gateways.
start parkgw1 "$bindir/parkgw" --server "$url" --ca run/tls/ca.pem --data-dir run/gw1 --id 1
start parkgw2 "$bindir/parkgw" --server "$url" --ca run/tls/ca.pem --data-dir run/gw2 --id 2

# 6. The demo accounts: an attendant of the site, and drivers.
account() { # phone, password: logs in, or makes the account through its SMS code first
	api POST /v1/sessions "{\"phone\":\"$1\",\"password\":\"$2\"}" >/dev/null 2>&1 && return 0
	api POST /v1/accounts "{\"phone\":\"$1\"}" >/dev/null || die "no SMS code for $1"
	code=$(sed -n "s/^$1 .*\([0-9]\{6\}\).*/\1/p" run/sms.log | tail -n 1)
	api POST /v1/accounts/verify \
		"{\"phone\":\"$1\",\"code\":\"$code\",\"password\":\"$2\"}" >/dev/null ||
		die "could not make the account $1; see run/parkd.log"
}
account "$attendant_phone" "$attendant_password"
api POST /v1/sites/1/roles "{\"phone\":\"$attendant_phone\",\"role\":\"attendant\"}" \
	>/dev/null 2>&1 || true
(umask 077 && printf '%s\n' "$attendant_password" >run/attendant.pass &&
	printf '%s\n' "$driver_password" >run/phones/password)

# 7. The simulated drivers: a phone each, and a car that comes and goes.
driver() { # n, spots...
	n=$1
	shift
	phone=+86138000001$n
	account "$phone" "$driver_password"
	start "phone$n" "$bindir/parkphoned" --server "$url" --ca-file run/tls/ca.pem \
		--data-dir "$PWD/run/phones/d$n" --socket "run/phones/d$n.sock"
	wait_for "parkphoned $n" test -S "run/phones/d$n.sock"
	"$bindir/parkctl" --socket "run/phones/d$n.sock" login "$phone" \
		--password-file run/phones/password >/dev/null || die "driver $n could not log in"
	start "driver$n" sh assets/demo/drivers.sh "$bindir" "run/phones/d$n.sock" "$@"
}
driver 1 101 102 103 104 105
driver 2 106 107 108 109 110
driver 3 201 202 203 204 205
driver 4 206 207 208 209 210

cat <<EOF

The demo garage is running (logs in run/*.log).
  key server     $url   (CA: run/tls/ca.pem)
  admin          $admin_phone / $admin_password
  attendant      $attendant_phone / $attendant_password
  drivers        +8613800000111..114 / $driver_password (phones: run/phones/dN.sock)
  SMS codes      run/sms.log        notifications  run/notify.log
  locks          run/locks/NNN.sock (spots 101-120 on B1, 201-220 on B2)
  world control  run/locks/world.sock, e.g.  echo '101 car present' | socat - UNIX-CONNECT:run/locks/world.sock
  a phone        $bindir/parkctl --socket run/phones/d1.sock keys
EOF

if [ "$headless" = 1 ] || [ ! -x "$bindir/parkconsole" ]; then
	echo "Stop everything with Ctrl-C (SIGINT) or SIGTERM."
	wait
	exit 0
fi
# The console in the foreground; quitting it stops everything (the EXIT trap).
"$bindir/parkconsole" --server "$url" --ca-file run/tls/ca.pem --phone "$attendant_phone" \
	--password-file run/attendant.pass --localedir "$(dirname "$bindir")/locale" ||
	say "the console ended with an error; see above"
