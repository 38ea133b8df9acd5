#!/bin/sh
# run.sh: runs the built test programs from the repository root, each printing its
# cmocka summary, then the core purity check, and closes with one line
# "N passed, N failed" counting programs. Exit status 1 when anything failed.
#
# Usage: tests/run.sh BUILD_DIR TEST_NAME...
set -u
build=$1
shift
pass=0
fail=0
failed=""
PARKLOCKD=$build/bin/parklockd
export PARKLOCKD
export FAKE_BLUEZ=$build/tests/fake-bluez

for t in "$@"; do
	bin=$build/tests/test-$t
	echo "== $t"
	start=$(date +%s)
	if "$bin"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		failed="$failed $t"
	fi
	echo "== $t: $(($(date +%s) - start)) s"
done

echo "== core-purity"
if sh tests/check-core.sh "$build"; then
	pass=$((pass + 1))
else
	fail=$((fail + 1))
	failed="$failed core-purity"
fi

[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
