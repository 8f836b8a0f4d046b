# A throw-away PostgreSQL server for tests and the pipeline.  Source this file
# (after `. bin/setup --env`, which sets PG_CONFIG), then:
#
#   cluster_start [DBNAME]   use the server named by PGHOST/PGPORT/PGDATABASE if
#                            any of them is set; otherwise initdb and start a
#                            private one (Unix socket only, in a fresh temp dir)
#                            and export PGHOST, PGPORT, PGUSER, PGDATABASE.
#                            DBNAME (default antares) is created if missing.
#   cluster_stop             stop the private server and remove its directory;
#                            also runs on exit, error and Ctrl-C.
#   cluster_keep             do not stop it on exit (print how to connect).
#   cluster_initdb DIR PORT  a new data directory DIR/data for a throw-away
#                            server on a Unix socket in DIR (cluster_start's;
#                            the caller appends its sizing to postgresql.conf).
#   copy_tree_for_pg SRC DST copy the source tree SRC (without .git and test
#                            output) into DST, owned by the server's OS user.
#   as_pg CMD...             run CMD as the server's OS user (postgres when root).
#   at_exit CMD...           run CMD on exit (last registered runs first).

CLUSTER_DIR=

# initdb refuses to run as root, so root runs the server as `postgres`.
if [[ $EUID -eq 0 ]]; then
    PG_OS_USER=postgres
    # (from /: postgres may not be allowed into the current directory)
    as_pg() { (cd / && runuser -u postgres -- "$@"); }
else
    PG_OS_USER=$(id -un)
    as_pg() { "$@"; }
fi

_exit_hooks=()
at_exit() { _exit_hooks+=("$(printf '%q ' "$@")"); }
_run_exit_hooks() {
    local i
    for ((i = ${#_exit_hooks[@]} - 1; i >= 0; i--)); do
        eval "${_exit_hooks[i]}" || true
    done
    _exit_hooks=()
}
trap _run_exit_hooks EXIT
trap 'echo "interrupted" >&2; exit 130' INT
trap 'echo "terminated" >&2; exit 143' TERM

_cluster_bindir() { "${PG_CONFIG:-pg_config}" --bindir; }

# A port no server uses: neither on TCP localhost nor as a socket in the usual places.
_cluster_free_port() {
    local port=$((54400 + RANDOM % 5000)) tries
    for ((tries = 0; tries < 200; tries++, port++)); do
        [[ -e /var/run/postgresql/.s.PGSQL.$port || -e /tmp/.s.PGSQL.$port ]] && continue
        (: </dev/tcp/127.0.0.1/"$port") 2>/dev/null && continue
        echo "$port"
        return 0
    done
    echo "cluster: no free port found" >&2
    return 1
}

_cluster_create_db() {
    local db=$1
    if ! psql -X -q -d "$db" -c 'SELECT 1' >/dev/null 2>&1; then
        createdb "$db"
    fi
}

cluster_initdb() {
    local dir=$1 port=$2
    as_pg "$(_cluster_bindir)/initdb" -D "$dir/data" -U "$PG_OS_USER" --auth=trust \
        --encoding=UTF8 --locale=C --no-instructions >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        return 1
    }
    # Durability is pointless for a throw-away server.
    cat >>"$dir/data/postgresql.conf" <<EOF

# antares throw-away cluster
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
EOF
}

copy_tree_for_pg() {
    local src=$1 dst=$2
    tar -C "$src" --exclude=./.git --exclude=./tmp_check --exclude=./results \
        --exclude=./log --exclude=./regression.diffs --exclude=./regression.out -cf - . |
        tar -C "$dst" -xf -
    chown -R "$PG_OS_USER": "$dst"
}

cluster_start() {
    local db=${1:-antares} bindir port
    bindir=$(_cluster_bindir)

    if [[ -n ${PGHOST:-}${PGPORT:-}${PGDATABASE:-} ]]; then
        export PGDATABASE=${PGDATABASE:-$db}
        echo "cluster: using the existing server (PGHOST=${PGHOST:-default} PGPORT=${PGPORT:-default} PGDATABASE=$PGDATABASE)"
        if ! "$bindir/pg_isready" -q; then
            echo "cluster: no server answers at PGHOST=${PGHOST:-default} PGPORT=${PGPORT:-default}" >&2
            return 1
        fi
        _cluster_create_db "$PGDATABASE"
        return 0
    fi

    CLUSTER_DIR=$(mktemp -d -t antares-pg.XXXXXX)
    at_exit cluster_stop
    chown "$PG_OS_USER": "$CLUSTER_DIR"
    port=$(_cluster_free_port)
    echo "cluster: starting a throw-away server on port $port (database $db, in $CLUSTER_DIR) ..."

    cluster_initdb "$CLUSTER_DIR" "$port" || return 1
    # Sized for 2 cores / 24 GiB.
    cat >>"$CLUSTER_DIR/data/postgresql.conf" <<EOF
shared_buffers = 1GB
work_mem = 64MB
maintenance_work_mem = 512MB
effective_cache_size = 16GB
max_worker_processes = 8
max_parallel_workers = 4
max_parallel_workers_per_gather = 2
max_parallel_maintenance_workers = 2
max_wal_size = 4GB
EOF
    if ! as_pg "$bindir/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -w -s start; then
        echo "cluster: the server did not start; its log:" >&2
        cat "$CLUSTER_DIR/server.log" >&2
        return 1
    fi
    export PGHOST=$CLUSTER_DIR PGPORT=$port PGUSER=$PG_OS_USER PGDATABASE=$db
    _cluster_create_db "$PGDATABASE"
}

cluster_stop() {
    [[ -n $CLUSTER_DIR && -d $CLUSTER_DIR ]] || return 0
    if [[ -f $CLUSTER_DIR/data/postmaster.pid ]]; then
        as_pg "$(_cluster_bindir)/pg_ctl" -D "$CLUSTER_DIR/data" -m fast -w -s stop ||
            as_pg "$(_cluster_bindir)/pg_ctl" -D "$CLUSTER_DIR/data" -m immediate -w -s stop || true
    fi
    rm -rf "$CLUSTER_DIR"
    CLUSTER_DIR=
}

cluster_keep() {
    [[ -n $CLUSTER_DIR ]] || return 0
    local dir=$CLUSTER_DIR
    CLUSTER_DIR=   # cluster_stop on exit now does nothing
    cat <<EOF
cluster: kept running. Connect with
    PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER PGDATABASE=$PGDATABASE psql
  (with those variables set, bin/pipeline and test/run reuse this server). Stop it with
    $( [[ $EUID -eq 0 ]] && printf 'runuser -u postgres -- ')$(_cluster_bindir)/pg_ctl -D $dir/data stop && rm -rf $dir
EOF
}
