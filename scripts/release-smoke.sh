#!/usr/bin/env bash
# The release build serves: starts `wharf serve --dev --devnet 3` from the release build (as an
# operator would run it), sends a v1 call, a v2 job with `Prefer: wait`, a plugin preset and a burst
# of concurrent calls while the orchestrator pool refreshes every second, then stops it with SIGTERM
# and expects exit status 0 and no crash report. Repeated ROUNDS times (default 3), because the
# optimizer defect it guards against (docs/RELIABILITY.md) showed itself within seconds, but not in
# every run.
#
#   scripts/release-smoke.sh            builds what it needs in release first
#   WHARF_RELEASE_BIN=DIR scripts/...   uses DIR/wharf and DIR/libWharfTemplatePlugin.so as they are
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${ROUNDS:-3}
scripts/install-packages.sh libsqlite3-dev ffmpeg curl
bin=${WHARF_RELEASE_BIN:-}
if [ -z "$bin" ]; then
    swift build -c release --product wharf
    swift build -c release --product WharfTemplatePlugin
    bin=.build/release
fi
bin=$(cd "$bin" && pwd)

work=$(mktemp -d)
server=""
cleanup() {
    [ -n "$server" ] && kill -KILL "$server" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
fail() {
    echo "release smoke: FAILED: $*" >&2
    [ -f "$work/serve.log" ] && tail -40 "$work/serve.log" >&2
    exit 1
}

# A request and its expected status; the body goes to $work/body.
call() {
    local expected=$1
    shift
    local status
    status=$(curl -sS -o "$work/body" -w '%{http_code}' --max-time 60 "$@") || fail "curl $* did not finish"
    [ "$status" = "$expected" ] || fail "$* answered $status, expected $expected: $(head -c 400 "$work/body")"
}

for round in $(seq 1 "$rounds"); do
    rm -rf "$work/data"
    mkdir -p "$work/data/plugins"
    cp "$bin/libWharfTemplatePlugin.so" "$work/data/plugins/"
    public=$(free_port)
    admin=$(free_port)
    started=$(date +%s%N)
    (
        cd "$work"
        exec env WHARF_DATA_DIRECTORY="$work/data" WHARF_HTTP_PUBLIC_PORT="$public" WHARF_HTTP_ADMIN_PORT="$admin" \
            WHARF_NETWORK_REFRESH_SECONDS=1 WHARF_LOG_LEVEL=warning \
            "$bin/wharf" serve --dev --devnet 3
    ) >"$work/serve.log" 2>&1 &
    server=$!

    # Ready within 30 s (the benchmark measures the real figure; this only bounds the wait).
    for _ in $(seq 1 300); do
        if curl -sf -o /dev/null "http://127.0.0.1:$admin/readyz"; then break; fi
        kill -0 "$server" 2>/dev/null || fail "wharf serve exited during start-up"
        sleep 0.1
    done
    curl -sf -o /dev/null "http://127.0.0.1:$admin/readyz" || fail "not ready after 30 s"
    ready_ms=$(( ($(date +%s%N) - started) / 1000000 ))
    key=$(cat "$work/data/dev-key")
    auth=(-H "Authorization: Bearer $key")

    # The pool has the devnet's offers once the first probes are back (readiness does not wait for them).
    for _ in $(seq 1 300); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "http://127.0.0.1:$admin/admin/v1/orchestrators")" = 200 ] \
            && curl -s "${auth[@]}" "http://127.0.0.1:$admin/admin/v1/orchestrators" | grep -q '"price_per_unit"' && break
        sleep 0.1
    done

    # v1: the Livepeer AI API, answered by a devnet orchestrator.
    call 200 "${auth[@]}" -H 'Content-Type: application/json' "http://127.0.0.1:$public/v1/llm" \
        -d '{"messages":[{"role":"user","content":"hello"}],"model":""}'
    grep -q '"choices"' "$work/body" || fail "v1 llm answered without choices: $(head -c 400 "$work/body")"
    call 200 "${auth[@]}" -H 'Content-Type: application/json' "http://127.0.0.1:$public/v1/text-to-image" \
        -d '{"prompt":"a harbour at dawn","model_id":"","width":64,"height":64}'
    grep -q '"images"' "$work/body" || fail "v1 text-to-image answered without images"

    # v2: a job on a built-in pipeline preset, waited for.
    call 200 "${auth[@]}" -H 'Content-Type: application/json' -H 'Prefer: wait=30' "http://127.0.0.1:$public/v2/jobs" \
        -d '{"preset":"pipeline.text-to-image","parameters":{"prompt":"a harbour"}}'
    grep -q '"status":"succeeded"' "$work/body" || fail "v2 job did not succeed: $(head -c 400 "$work/body")"

    # A plugin's preset, loaded from the release-built shared library.
    call 200 "${auth[@]}" -H 'Content-Type: application/json' -H 'Prefer: wait=30' "http://127.0.0.1:$public/v2/jobs" \
        -d '{"preset":"template.greet","parameters":{"name":"smoke"}}'
    grep -q '"status":"succeeded"' "$work/body" || fail "plugin preset did not succeed: $(head -c 400 "$work/body")"

    # A burst of concurrent calls while the pool keeps refreshing.
    pids=()
    for i in $(seq 1 40); do
        curl -sS -o /dev/null -w '%{http_code}\n' --max-time 60 "${auth[@]}" -H 'Content-Type: application/json' \
            "http://127.0.0.1:$public/v1/llm" -d "{\"messages\":[{\"role\":\"user\",\"content\":\"burst $i\"}]}" \
            >"$work/burst-$i" 2>&1 &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || true; done
    bad=$(cat "$work"/burst-* | grep -cv '^200$' || true)
    [ "$bad" = "0" ] || fail "$bad of 40 concurrent v1 calls did not answer 200"
    rm -f "$work"/burst-*
    sleep 3  # a few more refreshes of the pool

    kill -0 "$server" 2>/dev/null || fail "wharf serve is no longer running"
    kill -TERM "$server"
    status=0
    wait "$server" || status=$?
    server=""
    [ "$status" = "0" ] || fail "wharf serve exited with status $status after SIGTERM"
    if grep -Eq 'Fatal error|pure virtual|Crash|Signal [0-9]|Thread [0-9]+ crashed|AddressSanitizer|ThreadSanitizer' "$work/serve.log"; then
        fail "a crash report is in the log"
    fi
    echo "release smoke: round $round/$rounds passed (ready in ${ready_ms} ms)"
done
echo "release smoke: passed"
