#!/bin/sh
# check-core.sh: proves the lock firmware core is what it claims to be: it includes
# nothing but its own headers, the protocol codec and the port interface, and its
# objects call nothing outside themselves but memcpy/memset/memcmp/memmove (plus the
# sanitizer runtime in a SAN build). No heap, no stdio, no OS calls.
#
# Usage: tests/check-core.sh BUILD_DIR
set -u
build=$1
status=0

bad_includes=$(grep -n '#include <' lockfw/core/*.[ch] lockfw/proto/*.[ch] |
	grep -v -E '<(stdint|stddef|stdbool|string)\.h>')
if [ -n "$bad_includes" ]; then
	echo "core-purity: system headers beyond stdint/stddef/stdbool/string:"
	echo "$bad_includes"
	status=1
fi

objs=$(ls "$build"/obj/lockfw/core/*.o "$build"/obj/lockfw/proto/*.o)
defined=$(nm --defined-only $objs | awk 'NF == 3 { print $3 }' | sort -u)
undefined=$(nm -u $objs | awk 'NF == 2 { print $2 }' | sort -u)
outside=$(echo "$undefined" | grep -v -x -F "$defined" |
	grep -v -E '^(memcpy|memset|memcmp|memmove|__asan_.*|__ubsan_.*|__sanitizer_.*|_GLOBAL_OFFSET_TABLE_|__stack_chk_fail)$')
if [ -n "$outside" ]; then
	echo "core-purity: the core calls outside itself:"
	echo "$outside"
	status=1
fi
[ $status -eq 0 ] && echo "core-purity: ok ($(echo "$objs" | wc -w) objects, only memcpy/memset/memcmp used)"
exit $status
