#!/bin/sh
# run.sh: `make fuzz`: runs each libFuzzer target for SECONDS with ASan and UBSan,
# keeping a corpus per target under build/fuzz/, and stops at the first crash.
# Usage: tests/fuzz/run.sh SECONDS TARGET...
set -eu
seconds=$1
shift

# Seeds for fuzz-frame: whole frames (first byte 0 = "one frame") of the request types.
seed_frame() {
	dir=$1
	printf '\000\001\001\001\000\271' >"$dir/hello"
	printf '\000\001\002\002' >"$dir/challenge-req"
	printf '\000\001\005\003AAAAAAAAAAAAAAAA' >"$dir/status-req"
	printf '\000\001\006\004AAAAAAAAAAAAAAAA\000\000\000\001\020' >"$dir/log-req"
}

for t in "$@"; do
	corpus=build/fuzz/corpus-$t
	mkdir -p "$corpus"
	[ "$t" = frame ] && [ -z "$(ls -A "$corpus")" ] && seed_frame "$corpus"
	echo "== fuzz-$t for ${seconds}s"
	build/fuzz/fuzz-"$t" -max_total_time="$seconds" -print_final_stats=1 \
		-artifact_prefix=build/fuzz/crash-"$t"- "$corpus" 2>&1 |
		grep -E 'stat::number_of_executed_units|stat::peak_rss|ERROR|SUMMARY|Done' || true
	if ls build/fuzz/crash-"$t"-* >/dev/null 2>&1; then
		echo "fuzz-$t: crash found, see build/fuzz/crash-$t-*" >&2
		exit 1
	fi
done
echo "fuzz: no crash in $# targets"
