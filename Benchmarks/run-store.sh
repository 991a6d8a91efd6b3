#!/usr/bin/env bash
# The store, side by side: the same gateway on SQLite (one node, the embedded default) and on
# PostgreSQL (one node, then three nodes on one database), release build, one devnet orchestrator.
#   1. Persisted one-step jobs a second: `POST /v2/jobs` of the `pipeline.llm` preset with
#      `Prefer: wait`, wrk at 16 connections per node (three nodes: three wrk at once, added up);
#      under the default tenant limits (100 jobs at once: each job takes and gives back a job slot,
#      in the store on PostgreSQL), then with no job limits.
#   2. What the shared rate limit costs a request: `GET /v2/key` at one connection, without a rate
#      limit and with one too high to refuse anything; the difference of the medians is the cost
#      (SQLite: counted in the node's memory; PostgreSQL: one call of `wharf_admit_request`).
# The reference in each row is SQLite on one node, measured in the same run.
# Writes the table to $OUT (default: .build/store-results.md); paste it into docs/PERFORMANCE.md.
#
#   Benchmarks/run-store.sh                 builds wharf in release first
#   WHARF_RELEASE_BIN=DIR Benchmarks/...    uses DIR/wharf as it is
#   DURATION=10                             seconds per wrk run
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
duration=${DURATION:-10}
out=${OUT:-$root/.build/store-results.md}

scripts/install-packages.sh wrk curl postgresql
source Benchmarks/common.sh
bin=$(release_bin)

work=$(mktemp -d)
pids=()
stop_nodes() {
    for pid in "${node_pids[@]:-}"; do [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${node_pids[@]:-}"; do [ -n "$pid" ] && wait "$pid" 2>/dev/null || true; done
    node_pids=()
}
cleanup() {
    stop_nodes
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# One devnet orchestrator, able to take every connection's request at once.
"$bin/wharf" devnet --orchestrators 1 --capacity 2048 >"$work/devnet.out" 2>"$work/devnet.log" &
pids+=($!)
for _ in $(seq 1 100); do grep -q '^network.orchestrators:' "$work/devnet.out" && break; sleep 0.1; done
orchestrators=$(sed -n 's/^network.orchestrators: //p' "$work/devnet.out")
[ -n "$orchestrators" ] || { cat "$work/devnet.out" "$work/devnet.log"; exit 1; }

# A throwaway PostgreSQL cluster (removed when this script ends).
pg_port=$(free_port)
scripts/postgres-cluster.sh "$work/postgres" "$pg_port" $$ >"$work/postgres.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do grep -q '^ready ' "$work/postgres.out" && break; sleep 0.1; done
pg_url=$(sed -n 's/^ready //p' "$work/postgres.out")
[ -n "$pg_url" ] || { cat "$work/postgres.out"; exit 1; }
database=0

node_pids=()
node_ports=()
node_admins=()
# start_nodes COUNT DRIVER: COUNT nodes; on postgres, one fresh database and one blob folder for all.
start_nodes() {
    local count=$1 driver=$2 run=$work/run-$RANDOM
    mkdir -p "$run/blobs"
    local store=()
    if [ "$driver" = postgres ]; then
        database=$((database + 1))
        psql -q "$pg_url" -c "CREATE DATABASE bench$database"
        store=(WHARF_STORE_DRIVER=postgres "WHARF_STORE_POSTGRES_URL=${pg_url%/wharf}/bench$database?sslmode=disable"
            "WHARF_ARTIFACTS_DIRECTORY=$run/blobs")
    fi
    node_pids=()
    node_ports=()
    node_admins=()
    for index in $(seq 0 $((count - 1))); do
        local data=$run/node$index public admin
        mkdir -p "$data"
        # Every node accepts the first node's development key.
        [ "$index" -gt 0 ] && cp "$run/node0/dev-key" "$data/dev-key"
        public=$(free_port)
        admin=$(free_port)
        (
            cd "$data"
            exec env "${store[@]}" WHARF_DATA_DIRECTORY="$data" WHARF_HTTP_PUBLIC_PORT="$public" WHARF_HTTP_ADMIN_PORT="$admin" \
                WHARF_NETWORK_ORCHESTRATORS="$orchestrators" WHARF_LOG_LEVEL=warning "$bin/wharf" serve --dev
        ) >"$data/wharf.log" 2>&1 &
        node_pids+=($!)
        node_ports+=("$public")
        node_admins+=("$admin")
        until curl -sf -o /dev/null "http://127.0.0.1:$admin/readyz"; do
            kill -0 "${node_pids[-1]}" || { tail -20 "$data/wharf.log"; exit 1; }
            sleep 0.05
        done
    done
    key=$(cat "$run/node0/dev-key")
    # Each node's pool must know the orchestrator's offer before the first job.
    for public in "${node_ports[@]}"; do
        for _ in $(seq 1 100); do
            [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
                -H 'Prefer: wait=10' "http://127.0.0.1:$public/v2/jobs" -d "$job")" = 200 ] && break
            sleep 0.1
        done
    done
}

# limits JSON: the development tenant's limits, through node 0's admin API (nodes read them within a second).
set_limits() {
    curl -sf -o /dev/null -X PUT -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
        "http://127.0.0.1:${node_admins[0]}/admin/v1/tenants/dev/limits" -d "$1"
    sleep 1.5
}

job='{"preset":"pipeline.llm","parameters":{"messages":"[{\"role\":\"user\",\"content\":\"a short question about harbours\"}]"}}'
jobs_lua=$work/jobs.lua
key_lua=$work/key.lua
write_scripts() {
    cat >"$jobs_lua" <<EOF
wrk.method = "POST"
wrk.path = "/v2/jobs"
wrk.body = [[$job]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
wrk.headers["Prefer"] = "wait=30"
EOF
    cat >"$key_lua" <<EOF
wrk.path = "/v2/key"
wrk.headers["Authorization"] = "Bearer $key"
EOF
}

# wrk SCRIPT CONNECTIONS PORT... → "requests/s p50_ms non2xx", requests/s added up over the ports
measure() {
    local script=$1 connections=$2
    shift 2
    local files=() runs=()
    for port in "$@"; do
        local file=$work/wrk-$port-$RANDOM.txt
        files+=("$file")
        wrk -t1 -c"$connections" -d"${duration}s" --latency -s "$script" "http://127.0.0.1:$port" >"$file" &
        runs+=($!)
    done
    for run in "${runs[@]}"; do wait "$run"; done
    cat "${files[@]}" >>"$work/wrk.log"
    python3 - "${files[@]}" <<'PY'
import re, sys
def ms(value):
    number = float(re.match(r"[\d.]+", value).group())
    return number * {"us": 0.001, "ms": 1, "s": 1000}[value[len(re.match(r"[\d.]+", value).group()):]]
rate, medians, bad = 0.0, [], 0
for path in sys.argv[1:]:
    text = open(path).read()
    rate += float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    medians.append(ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1)))
    found = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    bad += int(found.group(1)) if found else 0
print(f"{rate:.0f} {sum(medians) / len(medians):.3f} {bad}")
PY
}

declare -A results
run_configuration() { # label count driver
    start_nodes "$2" "$3"
    write_scripts
    results[$1,jobs]=$(measure "$jobs_lua" 16 "${node_ports[@]}")
    set_limits '{}'
    results[$1,free]=$(measure "$jobs_lua" 16 "${node_ports[@]}")
    results[$1,plain]=$(measure "$key_lua" 1 "${node_ports[0]}")
    set_limits '{"rate":{"requests_per_second":1000000,"burst":1000000}}'
    # The limit must be in force, or the comparison measures nothing.
    curl -s -D - -o /dev/null -H "Authorization: Bearer $key" "http://127.0.0.1:${node_ports[0]}/v2/key" | grep -qi '^ratelimit-policy' \
        || { echo "the rate limit is not applied to GET /v2/key" >&2; exit 1; }
    results[$1,limited]=$(measure "$key_lua" 1 "${node_ports[0]}")
    stop_nodes
}
run_configuration sqlite 1 sqlite
run_configuration postgres1 1 postgres
run_configuration postgres3 3 postgres

{
    echo "| store | nodes | one-step jobs/s, default job limits | × SQLite | jobs/s, no job limits | × SQLite | GET /v2/key p50 ms, no rate limit | with the rate limit | the limit's cost a request |"
    echo "|---|---|---|---|---|---|---|---|---|"
    arguments=()
    for configuration in sqlite postgres1 postgres3; do
        for measured in jobs free plain limited; do arguments+=("${results[$configuration,$measured]}"); done
    done
    python3 - "${arguments[@]}" <<'PY'
import sys
rows = [("SQLite", 1), ("PostgreSQL", 1), ("PostgreSQL", 3)]
values = [value.split() for value in sys.argv[1:]]
reference_jobs, reference_free = float(values[0][0]), float(values[1][0])
for index, (store, nodes) in enumerate(rows):
    jobs, free, plain, limited = values[4 * index: 4 * index + 4]
    bad = sum(int(value[2]) for value in (jobs, free, plain, limited))
    note = f" ({bad} non-2xx)" if bad else ""
    cost = (float(limited[1]) - float(plain[1])) * 1000
    print(f"| {store} | {nodes} | {float(jobs[0]):.0f}{note} | {float(jobs[0]) / reference_jobs:.2f}× | {float(free[0]):.0f} | "
          f"{float(free[0]) / reference_free:.2f}× | {float(plain[1]):.3f} | {float(limited[1]):.3f} | {cost:+.0f} µs |")
PY
} | tee "$out"
