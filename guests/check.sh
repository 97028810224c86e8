#!/usr/bin/env bash
# Native self-check of the guests (run by `make check`): for each test guest, the native
# build at -O2 and -O0 and the hosted SDK builds (the SDK's own libc on Linux) must print
# the same bytes and exit with the same status. Then structural checks of the ELFs:
# PT_LOADs at >= 1 MiB, ET_EXEC; fp_vector's -O2 build must contain packed SSE instructions.
# usage: check.sh TESTS... -- BENCHES...   (intloop runs with a small command line)
set -u
cd "$(dirname "$0")"
tests=(); benches=(); sep=0
for a in "$@"; do if [ "$a" = -- ]; then sep=1; elif [ $sep = 0 ]; then tests+=("$a"); else benches+=("$a"); fi; done
fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
run() { # name variant args...
  local n=$1 v=$2; shift 2
  "build/$n-$v" "$@" >"$tmp/$n-$v.out" 2>"$tmp/$n-$v.err"; echo $? >"$tmp/$n-$v.rc"
}
compare() { # name args...
  local n=$1; shift
  run "$n" native "$@"
  local ref="$tmp/$n-native"
  for v in native-O0 hosted-O0 hosted-O2; do
    [ -x "build/$n-$v" ] || continue
    run "$n" "$v" "$@"
    if ! cmp -s "$ref.out" "$tmp/$n-$v.out" || ! cmp -s "$ref.rc" "$tmp/$n-$v.rc"; then
      echo "FAIL $n: $v differs from native (status $(cat "$ref.rc") vs $(cat "$tmp/$n-$v.rc"))"
      diff "$ref.out" "$tmp/$n-$v.out" | head -10
      fail=1
    fi
  done
  printf '  ok   %-10s status %3s, %6s bytes\n' "$n" "$(cat "$ref.rc")" "$(wc -c <"$ref.out")"
}
for n in "${tests[@]}"; do compare "$n"; done
for n in "${benches[@]}"; do
  case $n in intloop) compare "$n" 100000 ;; fpbench) compare "$n" 2000 ;; *) compare "$n" ;; esac
done
for f in build/*-O0.elf build/*-O2.elf; do
  readelf -h "$f" | grep -q 'EXEC (Executable file)' || { echo "FAIL $f: not ET_EXEC"; fail=1; }
  for pa in $(readelf -lW "$f" | awk '$1=="LOAD" {print $4}'); do
    (( pa >= 0x100000 )) || { echo "FAIL $f: PT_LOAD at $pa, below 1 MiB"; fail=1; }
  done
done
if [ -f build/fp_vector-O2.elf ]; then
  packed=$(objdump -d --no-show-raw-insn build/fp_vector-O2.elf | grep -cP '\t(addps|mulps|addpd|mulpd|paddd|paddq|pmulld|pmuludq)\b')
  (( packed > 0 )) || { echo "FAIL fp_vector-O2: no packed SSE instructions (not vectorised)"; fail=1; }
fi
[ $fail = 0 ] && echo "guests: all native checks passed"
exit $fail
