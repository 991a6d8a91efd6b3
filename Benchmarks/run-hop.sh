#!/usr/bin/env bash
# The gateway hop, side by side: the same small `llm` request sent to one devnet orchestrator
#   1. straight to it over HTTPS (the floor),
#   2. through nginx (`proxy_pass` to the same orchestrator, upstream keep-alive): the reference,
#   3. through Wharf's v1 API (`POST /v1/llm`), and
#   4. through Wharf's v2 API (`POST /v2/jobs` with `Prefer: wait`, a persisted job),
# each with wrk at 1 and at 32 connections. Prints requests/s, p50 and p99 for each, then Wharf's
# memory (idle, after the load, and with 1,000 jobs in flight) and how soon /readyz answered 200.
# Writes the table to $OUT (default: .build/hop-results.md); paste it into docs/PERFORMANCE.md.
#
#   Benchmarks/run-hop.sh                 builds wharf in release first
#   WHARF_RELEASE_BIN=DIR Benchmarks/...  uses DIR/wharf as it is
#   DURATION=10                           seconds per wrk run
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
duration=${DURATION:-10}
out=${OUT:-$root/.build/hop-results.md}

scripts/install-packages.sh nginx-light wrk curl
scripts/livepeer-reference.sh >/dev/null
source Benchmarks/common.sh
bin=$(release_bin)

work=$(mktemp -d)
pids=()
cleanup() {
    [ -f "$work/nginx.conf" ] && nginx -c "$work/nginx.conf" -s stop 2>/dev/null || true
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    sleep 1
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
rss_mb() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# One devnet orchestrator, able to work on every connection's request at once.
"$bin/wharf" devnet --orchestrators 1 --capacity 2048 >"$work/devnet.out" 2>"$work/devnet.log" &
pids+=($!)
for _ in $(seq 1 100); do grep -q '^network.orchestrators:' "$work/devnet.out" && break; sleep 0.1; done
grpc_address=$(sed -n 's/^network.orchestrators: //p' "$work/devnet.out")
http_port=$(grep -o 'faults=https://127.0.0.1:[0-9]*' "$work/devnet.out" | head -1 | grep -o '[0-9]*$')
[ -n "$grpc_address" ] && [ -n "$http_port" ] || { cat "$work/devnet.out" "$work/devnet.log"; exit 1; }
segment=$(python3 Benchmarks/Hop/segment_header.py .build/livepeer-reference "$grpc_address")

# nginx in front of the same orchestrator, keeping its upstream connections open as a gateway does.
nginx_port=$(free_port)
cat >"$work/nginx.conf" <<EOF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log $work/nginx-access.log;
    client_body_temp_path $work;
    proxy_temp_path $work;
    upstream orchestrator { server 127.0.0.1:$http_port; keepalive 128; }
    server {
        listen 127.0.0.1:$nginx_port;
        location / {
            proxy_pass https://orchestrator;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
nginx -c "$work/nginx.conf"

# Wharf (release), on the embedded defaults (SQLite in a temporary folder), routing to that orchestrator.
public=$(free_port)
admin=$(free_port)
started=$(date +%s%N)
(
    cd "$work"
    exec env WHARF_DATA_DIRECTORY="$work/data" WHARF_HTTP_PUBLIC_PORT="$public" WHARF_HTTP_ADMIN_PORT="$admin" \
        WHARF_NETWORK_ORCHESTRATORS="$grpc_address" "$bin/wharf" serve --dev
) >"$work/wharf.log" 2>&1 &
wharf=$!
pids+=($wharf)
until curl -sf -o /dev/null "http://127.0.0.1:$admin/readyz"; do
    kill -0 "$wharf" || { tail -20 "$work/wharf.log"; exit 1; }
    sleep 0.005
done
ready_ms=$(( ($(date +%s%N) - started) / 1000000 ))
key=$(cat "$work/data/dev-key")
# The pool must know the orchestrator's offer before the first call.
for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
        "http://127.0.0.1:$public/v1/llm" -d '{"messages":[{"role":"user","content":"warm up"}]}')" = 200 ] && break
    sleep 0.1
done
sleep 1
idle_rss=$(rss_mb "$wharf")

llm='{"messages":[{"role":"user","content":"a short question about harbours"}],"model":""}'
# v2 presets take the v1 fields as strings: the messages list is one JSON string.
job='{"preset":"pipeline.llm","parameters":{"messages":"[{\"role\":\"user\",\"content\":\"a short question about harbours\"}]"}}'
lua() { # path body header...
    local file=$work/request-$RANDOM.lua
    {
        echo 'wrk.method = "POST"'
        printf 'wrk.path = "%s"\n' "$1"
        printf 'wrk.body = [[%s]]\n' "$2"
        echo 'wrk.headers["Content-Type"] = "application/json"'
        shift 2
        for header in "$@"; do printf 'wrk.headers["%s"] = "%s"\n' "${header%%:*}" "${header#*: }"; done
    } >"$file"
    echo "$file"
}
direct_lua=$(lua /llm "$llm" "Livepeer-Segment: $segment")
v1_lua=$(lua /v1/llm "$llm" "Authorization: Bearer $key")
v2_lua=$(lua /v2/jobs "$job" "Authorization: Bearer $key" "Prefer: wait=30")

# wrk URL script connections → "requests/s p50_ms p99_ms non2xx"
measure() {
    local threads=$(( $3 < 2 ? 1 : 2 ))
    local report
    report=$(wrk -t"$threads" -c"$3" -d"${duration}s" --latency -s "$2" "$1")
    echo "$report" >>"$work/wrk.log"
    local rps p50 p99 bad
    rps=$(echo "$report" | awk '/^Requests\/sec/ { print $2 }')
    p50=$(echo "$report" | awk '$1 == "50%" { print $2 }')
    p99=$(echo "$report" | awk '$1 == "99%" { print $2 }')
    bad=$(echo "$report" | awk '/Non-2xx/ { print $5 }')
    echo "$rps $(to_ms "$p50") $(to_ms "$p99") ${bad:-0}"
}
to_ms() { # wrk prints 812.00us, 11.70ms or 1.02s
    python3 -c 'import sys; v=sys.argv[1]; u={"us":0.001,"ms":1,"s":1000}; n=v.rstrip("mus"); print(f"{float(n)*u[v[len(n):]]:.2f}")' "$1"
}

declare -A results
for connections in 1 32; do
    results[direct,$connections]=$(measure "https://127.0.0.1:$http_port" "$direct_lua" "$connections")
    results[nginx,$connections]=$(measure "http://127.0.0.1:$nginx_port" "$direct_lua" "$connections")
    results[v1,$connections]=$(measure "http://127.0.0.1:$public" "$v1_lua" "$connections")
    results[v2,$connections]=$(measure "http://127.0.0.1:$public" "$v2_lua" "$connections")
done
loaded_rss=$(rss_mb "$wharf")

# 1,000 v2 jobs in flight: the orchestrator holds each request for 20 s.
curl -sk -X POST "https://127.0.0.1:$http_port/_devnet/faults" -d '{"added_latency_ms":20000}' >/dev/null
seq 1 1000 | xargs -P 32 -I{} curl -s -o /dev/null -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    "http://127.0.0.1:$public/v2/jobs" -d "$job"
sleep 2
in_flight=$(curl -sk "https://127.0.0.1:$http_port/_devnet/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["active"])')
flight_rss=$(rss_mb "$wharf")
curl -sk -X POST "https://127.0.0.1:$http_port/_devnet/faults" -d '{}' >/dev/null

row() { # label key connections
    read -r rps p50 p99 bad <<<"${results[$2,$3]}"
    printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$3" "$rps" "$p50" "$p99" "$bad"
}
{
    echo "| path | connections | requests/s | p50 ms | p99 ms | non-2xx |"
    echo "|---|---|---|---|---|---|"
    for connections in 1 32; do
        row "straight to the orchestrator (HTTPS)" direct "$connections"
        row "reference: nginx proxy_pass" nginx "$connections"
        row "Wharf /v1/llm" v1 "$connections"
        row "Wharf /v2/jobs, Prefer: wait" v2 "$connections"
    done
    read -r nginx32 _ <<<"${results[nginx,32]}"
    read -r v132 _ <<<"${results[v1,32]}"
    read -r _ direct_p50 direct_p99 _ <<<"${results[direct,1]}"
    read -r _ v1_p50 v1_p99 _ <<<"${results[v1,1]}"
    read -r _ nginx_p50 nginx_p99 _ <<<"${results[nginx,1]}"
    echo
    python3 - "$nginx32" "$v132" "$direct_p50" "$direct_p99" "$v1_p50" "$v1_p99" "$nginx_p50" "$nginx_p99" <<'PY'
import sys
nginx, v1, dp50, dp99, wp50, wp99, np50, np99 = map(float, sys.argv[1:])
print(f"- Wharf v1 throughput at 32 connections: {v1 / nginx:.2f}× nginx's.")
print(f"- Added at one connection, over the orchestrator alone: Wharf v1 p50 {wp50 - dp50:+.2f} ms, p99 {wp99 - dp99:+.2f} ms; "
      f"nginx p50 {np50 - dp50:+.2f} ms, p99 {np99 - dp99:+.2f} ms.")
PY
    echo "- Wharf RSS: ${idle_rss} MB idle, ${loaded_rss} MB after the runs above, ${flight_rss} MB with 1,000 v2 jobs submitted and ${in_flight:-?} of them at the orchestrator."
    echo "- /readyz answered 200 ${ready_ms} ms after the process was started."
} | tee "$out"
