#!/bin/sh
# site-fill.sh: fills the key placeholders of a site description (server/SITE-FORMAT.md)
# from the files the devices wrote: each "device_pub": "FROM_LOCK" from LOCK_DIR/SPOT.pub
# (parklockd writes them), and each "public_key": "FROM_GATEWAY" from the gateway key
# files given, in the order the gateways appear. Writes the result on standard output.
#
# Usage: scripts/site-fill.sh SITE_JSON LOCK_DIR GATEWAY_PUB...
#   e.g. scripts/site-fill.sh assets/demo/site.json run/locks run/gw1/gateway.pub \
#        run/gw2/gateway.pub >run/site.json
# The description must keep one spot per line and one gateway per line, as
# assets/demo/site.json does. Exit status 1 when a key file is missing or is not 128 hex
# digits, or when gateways and key files do not pair up; nothing is written then.
set -eu

if [ "$#" -lt 3 ]; then
	echo "usage: site-fill.sh SITE_JSON LOCK_DIR GATEWAY_PUB..." >&2
	exit 2
fi
site=$1
lockdir=$2
shift 2

awk -v lockdir="$lockdir" -v ngw="$#" '
function key(path,    line, ok) {
	ok = (getline line <path) > 0
	close(path)
	if (!ok || line !~ /^[0-9a-fA-F]+$/ || length(line) != 128) {
		print "site-fill.sh: " path ": missing, or not one line of 128 hex digits" >"/dev/stderr"
		failed = 1
		exit 1
	}
	return line
}
BEGIN {
	for (i = 1; i <= ngw; i++)
		gwfile[i] = ARGV[i + 1]
	for (i = 2; i <= ngw + 1; i++)
		delete ARGV[i]
	gw = 0
}
/"device_pub": *"FROM_LOCK"/ {
	if (!match($0, /"id": *[0-9]+/)) {
		print "site-fill.sh: line " NR ": a FROM_LOCK placeholder without a spot id" >"/dev/stderr"
		failed = 1
		exit 1
	}
	spot = substr($0, RSTART, RLENGTH)
	sub(/"id": */, "", spot)
	k = key(lockdir "/" spot ".pub")
	sub(/"device_pub": *"FROM_LOCK"/, "\"device_pub\": \"" k "\"")
}
/"public_key": *"FROM_GATEWAY"/ {
	gw++
	if (gw > ngw) {
		print "site-fill.sh: more gateways than gateway key files" >"/dev/stderr"
		failed = 1
		exit 1
	}
	k = key(gwfile[gw])
	sub(/"public_key": *"FROM_GATEWAY"/, "\"public_key\": \"" k "\"")
}
{ out[NR] = $0 }
END {
	if (failed)
		exit 1
	if (gw != ngw) {
		print "site-fill.sh: " ngw " gateway key files for " gw " gateways" >"/dev/stderr"
		exit 1
	}
	for (i = 1; i <= NR; i++)
		print out[i]
}
' "$site" "$@"
