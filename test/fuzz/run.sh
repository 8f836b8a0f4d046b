#!/bin/bash
# test/fuzz/run.sh [SECONDS]: builds the alert decoder's libFuzzer harness with
# Debian's clang (ASan, UBSan, LSan) and runs it for SECONDS (default 600) on
# one core, seeded with the real ZTF packets of test/data/alerts/ztf.  Not part
# of CI.  Prints libFuzzer's final statistics (executions, crashes); a crash
# leaves its input as crash-* in the corpus directory and exits non-zero.
set -euo pipefail
ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
seconds=${1:-600}
work=${FUZZ_DIR:-$(mktemp -d -t antares-fuzz.XXXXXX)}
mkdir -p "$work/corpus"
cp "$ROOT"/test/data/alerts/ztf/*.avro "$work/corpus/"
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$ROOT/src" -I"$ROOT/test/unit" -o "$work/fuzz_alert_decode" \
    "$ROOT/test/fuzz/fuzz_alert_decode.c" "$ROOT/src/alert_decode.c" \
    $(pkg-config --libs avro-c 2>/dev/null || echo -lavro) -lz -lm
# A corrupt length makes libavro ask malloc for up to 2^63 bytes, which fails
# and becomes a status: let ASan's allocator return NULL as glibc's does.
cd "$work"
ASAN_OPTIONS=allocator_may_return_null=1 ./fuzz_alert_decode -max_total_time="$seconds" \
    -malloc_limit_mb=0 -rss_limit_mb=4096 -max_len=131072 -print_final_stats=1 \
    -artifact_prefix="$work/" corpus 2>&1 | tail -25
echo "fuzz: corpus and any crash-* inputs in $work"
