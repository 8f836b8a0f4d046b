#!/bin/bash
# test/fuzz/run.sh [SECONDS]: builds the alert decoder's libFuzzer harness with
# Debian's clang (ASan, UBSan, LSan) and runs it for SECONDS (default 600) on
# one core, seeded with the real ZTF packets of test/data/alerts/ztf (and
# Rubin-format containers when bin/antares_alertgen is built).  Not part
# of CI.  Prints libFuzzer's final statistics (executions, crashes); a crash,
# leak or out-of-memory leaves its input in the work directory (FUZZ_DIR, or a
# temporary one) and exits non-zero.
set -euo pipefail
ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
seconds=${1:-600}
work=${FUZZ_DIR:-$(mktemp -d -t antares-fuzz.XXXXXX)}
mkdir -p "$work/corpus"
cp "$ROOT"/test/data/alerts/ztf/*.avro "$work/corpus/"
# Rubin-format containers too (bin/antares_alertgen, when built): history,
# forced sources, cutouts, deflate.
if [[ -x $ROOT/bin/antares_alertgen ]]; then
    printf '1,60000.5,g,120.5,3.25\n1,60001.5,r,-40,4\n1,60002.5,i,300,5\n' >"$work/points.csv"
    "$ROOT/bin/antares_alertgen" --forced --cutout=64 --per-file=3 -o "$work/rubin" "$work/points.csv"
    "$ROOT/bin/antares_alertgen" --deflate --per-file=3 -o "$work/rubin-deflate" "$work/points.csv"
    cp "$work/rubin/000001.avro" "$work/corpus/rubin.avro"
    cp "$work/rubin-deflate/000001.avro" "$work/corpus/rubin-deflate.avro"
fi
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$ROOT/src" -I"$ROOT/test/unit" -o "$work/fuzz_alert_decode" \
    "$ROOT/test/fuzz/fuzz_alert_decode.c" "$ROOT/src/alert_decode.c" \
    $(pkg-config --libs avro-c 2>/dev/null || echo -lavro) -lz -lm
# A single allocation above 4 GB or a resident size above 4 GB is a finding
# (libFuzzer's "out-of-memory"), as a leak is (LeakSanitizer).
cd "$work"
status=0
./fuzz_alert_decode -max_total_time="$seconds" -rss_limit_mb=4096 -max_len=131072 \
    -print_final_stats=1 -artifact_prefix="$work/" corpus >"$work/fuzz.log" 2>&1 || status=$?
grep -E '^(Done|stat::|SUMMARY)' "$work/fuzz.log" || tail -40 "$work/fuzz.log"
echo "fuzz: log, corpus and any crash-*, leak-*, oom-* inputs in $work"
exit "$status"
