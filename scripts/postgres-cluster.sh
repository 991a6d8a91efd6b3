#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and benchmarks: no system service, nothing kept.
#
#   scripts/postgres-cluster.sh DIR PORT [WATCH_PID]
#
# Creates a cluster in DIR/data (trust authentication for user `wharf` on 127.0.0.1, fsync off: the
# data is thrown away), starts it on PORT with its socket in DIR, creates database `wharf`, prints
# `ready postgres://wharf@127.0.0.1:PORT/wharf`, then waits: until WATCH_PID ends (a test process,
# even one that crashed), or until it gets SIGTERM/SIGINT. Then it stops the cluster and removes DIR.
# As root the cluster runs as the `postgres` user (initdb refuses root). Stop/start the cluster
# meanwhile with `pg-ctl.sh`-style calls: `DIR/pg_ctl stop` and `DIR/pg_ctl start` (a wrapper this
# script writes), e.g. to test a store restart.
set -euo pipefail

dir=${1:?usage: postgres-cluster.sh DIR PORT [WATCH_PID]}
port=${2:?usage: postgres-cluster.sh DIR PORT [WATCH_PID]}
watch=${3:-}

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bin" ]; then
    bin=$(pg_config --bindir 2>/dev/null || true)
fi
[ -x "$bin/initdb" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }

mkdir -p "$dir"
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$dir"
    chmod 755 "$dir"
    # A temporary folder is usually private to its owner: let the postgres user through it.
    chmod o+x "$(dirname "$dir")"
    as_owner=(runuser -u postgres --)
fi

options="-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
cat > "$dir/pg_ctl" <<WRAPPER
#!/usr/bin/env bash
# pg_ctl for this cluster: \$1 is stop or start.
case "\$1" in
    stop) exec ${as_owner[*]} "$bin/pg_ctl" -D "$dir/data" -m fast -w stop ;;
    start) exec ${as_owner[*]} "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "$options" start ;;
    *) echo "usage: \$0 stop|start" >&2; exit 2 ;;
esac
WRAPPER
chmod 755 "$dir/pg_ctl"

cleanup() {
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 0' TERM INT

"${as_owner[@]}" "$bin/initdb" -D "$dir/data" -A trust -U wharf --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
"$dir/pg_ctl" start >/dev/null || { cat "$dir/log" >&2; exit 1; }
"${as_owner[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U wharf wharf
echo "ready postgres://wharf@127.0.0.1:$port/wharf"

while true; do
    if [ -n "$watch" ] && ! kill -0 "$watch" 2>/dev/null; then
        exit 0
    fi
    sleep 1 &
    wait $! || true
done
