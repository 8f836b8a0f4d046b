#!/bin/bash
# test/fuzz/run_gbt.sh [SECONDS]: builds the gradient-boosted ensemble's
# libFuzzer harness (test/fuzz/fuzz_gbt.c) with Debian's clang (ASan, UBSan,
# LSan) and runs it for SECONDS (default 600) on one core, from an empty
# corpus.  Not part of CI.  Prints libFuzzer's final statistics; a crash, a
# mismatch between the compiled and the reference walk (an abort), a leak or
# a timeout leaves its input in the work directory (FUZZ_DIR, or a temporary
# one) and exits non-zero.
set -euo pipefail
ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
seconds=${1:-600}
work=${FUZZ_DIR:-$(mktemp -d -t antares-fuzz-gbt.XXXXXX)}
mkdir -p "$work/corpus"
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$ROOT/src" -I"$ROOT/test/unit" -o "$work/fuzz_gbt" "$ROOT/test/fuzz/fuzz_gbt.c" "$ROOT/src/gbt.c" -lm
cd "$work"
status=0
./fuzz_gbt -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$work/" corpus >"$work/fuzz.log" 2>&1 || status=$?
grep -E '^(Done|stat::|SUMMARY)' "$work/fuzz.log" || tail -40 "$work/fuzz.log"
echo "fuzz: log, corpus and any crash-*, leak-*, timeout-* inputs in $work"
exit "$status"
