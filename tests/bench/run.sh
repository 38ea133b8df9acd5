#!/bin/sh
# run.sh: `make bench`. Prints figures, never pass/fail:
#  1. instructions the lock executes for one complete unlock (callgrind), split into
#     crypto, port (simulated hardware and radio) and the lock core itself, beside the
#     bare crypto operations an unlock needs, measured in the same run; medians of 5;
#  2. the size of the lock core (text, data, bss) built with -Os without crypto, for
#     the host and, when arm-none-eabi-gcc is installed, for a Cortex-M4 (Thumb-2), and
#     the static RAM of one `struct lock`;
#  3. the whole system over loopback, the real parkd, parkgw and parklockd in temporary
#     directories: e-key issuance over HTTP beside its crypto-only bound (bench-issue),
#     lock events to an event-stream subscriber with 2,000 locks (bench-events), 200
#     credentials through one gateway (bench-delivery), warm and cold unlocks through
#     parkphoned (bench-phone); the operator console parkconsole: a frame and a full
#     repaint of a 2,000-spot map (bench-console), and the real console in tmux under a
#     storm of 500 events a second for 10 s, its lag behind the stream and its CPU
#     (bench-console-storm). A set-up that fails is reported and the others still run;
#     the exit status is then 1.
set -eu
out=build/bench
mkdir -p "$out"
rm -f "$out"/cg.out*

echo "== unlock cost (callgrind instruction counts, median of 5 rounds)"
valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$out/cg.out" \
	build/bench/bench-unlock >"$out/valgrind.log" 2>&1 || {
	cat "$out/valgrind.log"
	exit 1
}

crypto_fns="port_crypto_sha256 port_crypto_hmac_sha256 port_crypto_ecdsa_verify tp_random tp_device_sign tp_device_pubkey"
port_fns="tp_radio_send tp_motor_drive tp_endstop_read tp_proximity_read tp_battery_percent tp_flash_read tp_flash_write tp_flash_erase tp_clock_ms"
lock_fns="lock_receive lock_tick"

# Sums the inclusive instruction counts of the named functions in one dump.
incl() {
	file=$1
	shift
	callgrind_annotate --inclusive=yes --threshold=100 "$file" 2>/dev/null |
		awk -v names="$*" '
		BEGIN { n = split(names, want, " "); for (i = 1; i <= n; i++) w[want[i]] = 1 }
		# The function list: "N (P%)  file:function [object]"; skip call lines ("=>").
		/^ *[0-9,]+ .*\]$/ && !/=>/ {
			cost = $1; gsub(",", "", cost)
			fn = $0; sub(/^[^:]*:/, "", fn); sub(/ .*$/, "", fn)
			if (fn in w) sum += cost
		}
		END { printf "%d\n", sum }'
}

total() {
	callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { c = $1; gsub(",", "", c); print c; exit }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

: >"$out/unlock.txt"
: >"$out/bare.txt"
for f in "$out"/cg.out.*; do
	if grep -q 'Client Request: unlock' "$f"; then
		lock=$(incl "$f" $lock_fns)
		crypto=$(incl "$f" $crypto_fns)
		port=$(incl "$f" $port_fns)
		echo "$lock $crypto $port" >>"$out/unlock.txt"
	elif grep -q 'Client Request: bare-crypto' "$f"; then
		total "$f" >>"$out/bare.txt"
	fi
done

lock=$(awk '{ print $1 }' "$out/unlock.txt" | median)
crypto=$(awk '{ print $2 }' "$out/unlock.txt" | median)
port=$(awk '{ print $3 }' "$out/unlock.txt" | median)
bare=$(median <"$out/bare.txt")
core=$((lock - crypto - port))
printf '  %-44s %12s\n' "lock, whole unlock (lock_receive + lock_tick)" "$lock"
printf '  %-44s %12s\n' "  of which crypto (port crypto calls)" "$crypto"
printf '  %-44s %12s\n' "  of which port (sim flash, motor, radio)" "$port"
printf '  %-44s %12s\n' "  of which the lock core itself" "$core"
printf '  %-44s %12s\n' "bare crypto an unlock needs (same run)" "$bare"
awk -v core="$core" -v crypto="$crypto" -v bare="$bare" 'BEGIN {
	printf "  core on top of its crypto:  %.1f%%  (target <= 20%%)\n", 100 * core / crypto
	printf "  core on top of bare crypto: %.1f%%\n", 100 * core / bare
}'

echo "== lock core size, -Os, without crypto, linked as firmware (--gc-sections)"
core_src="lockfw/core/*.c lockfw/proto/*.c tests/bench/size-probe.c"
size_of() {
	# $1 compiler, $2 size tool, remaining: flags. The port table, memcpy and memset
	# stay undefined: they are the board's and the C library's, not the core's.
	cc=$1
	sz=$2
	shift 2
	rm -rf "$out/size" && mkdir -p "$out/size"
	for f in $core_src; do
		$cc -std=c11 -Os -ffreestanding -fno-pic -ffunction-sections -fdata-sections "$@" \
			-c "$f" -o "$out/size/$(basename "$f" .c).o"
	done
	$cc "$@" -nostdlib -static -Wl,--gc-sections -Wl,-e,size_probe_main \
		-Wl,--unresolved-symbols=ignore-all -o "$out/size/lock.elf" "$out"/size/*.o
	$sz -A "$out/size/lock.elf" | awk '
		$1 ~ /^\.(text|rodata)/ { code += $2 }
		$1 ~ /^\.data/ { data += $2 }
		$1 ~ /^\.bss/ { bss += $2 }
		END { printf "  code (text + rodata) %d  data %d  bss %d (one struct lock)\n", code, data, bss }'
}
echo "host x86-64 (gcc):"
size_of gcc size
if command -v arm-none-eabi-gcc >/dev/null 2>&1; then
	echo "Cortex-M4 Thumb-2 (arm-none-eabi-gcc):"
	size_of arm-none-eabi-gcc arm-none-eabi-size -mcpu=cortex-m4 -mthumb
else
	echo "Cortex-M4: arm-none-eabi-gcc not installed (apt-get install gcc-arm-none-eabi)"
fi
echo "targets: code <= 32768 bytes, static RAM (data + bss) <= 8192 bytes"

# The whole-system benchmarks print their own figures, each beside its target.
status=0
system_bench() {
	title=$1
	shift
	echo "== $title"
	"$@" || {
		echo "  $1 could not measure (exit $?): see the messages above"
		status=1
	}
}
system_bench "e-key issuance over HTTP (POST /v1/ekeys, whole flow) beside the crypto-only bound" \
	build/bench/bench-issue
system_bench "event path: lock event to event-stream subscriber, 2,000 simulated locks" \
	build/bench/bench-events
system_bench "credential delivery: 200 e-keys for 200 locks through one gateway" \
	build/bench/bench-delivery
system_bench "phone: warm and cold unlock through parkphoned (sim transport)" \
	build/bench/bench-phone
system_bench "sharing: share to first unlock, revocation to refusal through the gateway" \
	build/bench/bench-share
system_bench "console: map frame and full repaint, 2,000 spots (curses to /dev/null)" \
	build/bench/bench-console
system_bench "console under an event storm: 500 events/s for 10 s, parkconsole in tmux, 2,000 spots" \
	build/bench/bench-console-storm
exit $status
