#!/usr/bin/env bash
# The pg_regress scripts against a throw-away server run under valgrind
# memcheck (make valgrindcheck; not part of test/run: about 15 minutes for all
# scripts on 2 cores, 50 times the plain run).
#
#   test/valgrind.sh SCRIPT...      (make valgrindcheck passes the Makefile's REGRESS)
#
# Every server process (postmaster, backends, workers) runs under memcheck and
# logs to its own file.  Fails when an error report has a frame in antares
# code (a src/*.c file or antares.so) or a backend died of a signal, or when
# a script fails; the reports go to valgrind-errors.log in the source tree.
# PostgreSQL's own noise is in test/valgrind.supp.  Debian's postgres is not
# built with USE_VALGRIND, so memcheck sees malloc-level memory only: palloc
# chunks are not separate blocks, but uninitialised values are tracked.
# VALGRIND_LOGS=DIR keeps every process's log there.  Needs valgrind
# (apt-get install valgrind).  Always starts its own server:
# PGHOST, PGPORT and PGDATABASE are ignored.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
REPORT=$ROOT/valgrind-errors.log

if ! command -v valgrind >/dev/null; then
    echo "valgrindcheck: valgrind is not installed (apt-get install valgrind)" >&2
    exit 2
fi
unset PGHOST PGPORT PGDATABASE
. "$ROOT/bin/setup" --env
. "$ROOT/test/lib/cluster.sh"

if (($# == 0)); then
    echo "usage: test/valgrind.sh SCRIPT... (or make valgrindcheck [REGRESS=...])" >&2
    exit 2
fi

# The server: cluster_initdb, then pg_ctl starts a wrapper that
# runs postgres under valgrind (forked backends stay under it).
CLUSTER_DIR=$(mktemp -d -t antares-vg.XXXXXX)
at_exit cluster_stop
chown "$PG_OS_USER": "$CLUSTER_DIR"
bindir=$("$PG_CONFIG" --bindir)
port=$(_cluster_free_port)
vgdir=$CLUSTER_DIR/valgrind
mkdir "$vgdir"
cp "$ROOT/test/valgrind.supp" "$CLUSTER_DIR/valgrind.supp"
chown "$PG_OS_USER": "$vgdir" "$CLUSTER_DIR/valgrind.supp"

cluster_initdb "$CLUSTER_DIR" "$port" || exit 1
# No JIT: memcheck cannot follow generated code.  Child programs (COPY TO
# PROGRAM's shell) are not traced.
cat >>"$CLUSTER_DIR/data/postgresql.conf" <<EOF
shared_buffers = 128MB
work_mem = 64MB
jit = off
EOF
cat >"$CLUSTER_DIR/postgres-vg" <<EOF
#!/bin/sh
exec $(command -v valgrind) --tool=memcheck --trace-children=yes --trace-children-skip='/bin/*,/usr/bin/*' \\
    --track-origins=yes --num-callers=30 --error-limit=no \\
    --suppressions=$CLUSTER_DIR/valgrind.supp --log-file=$vgdir/%p.log \\
    $bindir/postgres "\$@"
EOF
chmod 755 "$CLUSTER_DIR/postgres-vg"

echo "valgrindcheck: starting the server under valgrind in $CLUSTER_DIR"
if ! as_pg "$bindir/pg_ctl" -D "$CLUSTER_DIR/data" -p "$CLUSTER_DIR/postgres-vg" \
    -l "$CLUSTER_DIR/server.log" -t 600 -w -s start; then
    echo "valgrindcheck: the server did not start; its log:" >&2
    cat "$CLUSTER_DIR/server.log" >&2
    exit 1
fi
export PGHOST=$CLUSTER_DIR PGPORT=$port PGUSER=$PG_OS_USER

# The scripts run in a copy of the tree owned by the server's OS user, as in test/run.
tree=$(mktemp -d -t antares-vgtree.XXXXXX)
at_exit rm -rf "$tree"
copy_tree_for_pg "$ROOT" "$tree"

status=0
make --no-print-directory -C "$tree" PG_CONFIG="$PG_CONFIG" REGRESS="$*" installcheck || status=$?
if ((status != 0)) && [[ -s $tree/regression.diffs ]]; then
    cp "$tree/regression.diffs" "$ROOT/regression.diffs"
    echo "valgrindcheck: a script failed; differences in $ROOT/regression.diffs"
fi
# Stop now: the processes write their last reports when they exit.
as_pg "$bindir/pg_ctl" -D "$CLUSTER_DIR/data" -m fast -t 600 -w -s stop || true
if [[ -n ${VALGRIND_LOGS:-} ]]; then
    mkdir -p "$VALGRIND_LOGS" && cp "$vgdir"/*.log "$CLUSTER_DIR/server.log" "$VALGRIND_LOGS"/
fi

# An error report is the block of lines from "==PID== <message>" to the next
# "==PID== " blank line; keep those with a frame in antares code.
FRAMES="\(($(cd "$ROOT/src" && ls -- *.c | sed 's/\./\\./g' | paste -sd'|')):[0-9]+\)|antares\.so\)"
export FRAMES
: >"$REPORT"
for log in "$vgdir"/*.log; do
    awk -v name="$(basename "$log")" '
        /^==[0-9]+== $/ { if (hit) { print "--- " name; printf "%s", block }
                          block = ""; hit = 0; next }
        /^==[0-9]+== / { block = block $0 "\n"; if ($0 ~ ENVIRON["FRAMES"]) hit = 1 }
        END { if (hit) { print "--- " name; printf "%s", block } }' "$log" >>"$REPORT"
done
errors=$(grep -c '^--- ' "$REPORT" || true)
crashes=$(grep -E 'terminated by signal' "$CLUSTER_DIR/server.log" || true)
if [[ -n $crashes ]]; then
    printf '%s\n' "$crashes" | tee -a "$REPORT"
fi

all=$(cat "$vgdir"/*.log | awk '/ ERROR SUMMARY: / { n += $4 } END { print n + 0 }')
echo "valgrindcheck: $(ls "$vgdir" | wc -l) server processes, $errors error reports in antares code" \
    "($all errors in all, not counting suppressed ones)"
if ((errors > 0)) || [[ -n $crashes ]]; then
    echo "valgrindcheck: FAILED; the reports are in $REPORT"
    exit 1
fi
rm -f "$REPORT"
if ((status != 0)); then
    echo "valgrindcheck: FAILED; no valgrind error in antares code, but a script failed"
    exit 1
fi
echo "valgrindcheck: ok"
