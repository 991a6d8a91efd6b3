#!/usr/bin/env bash
# Hedged requests against a slow tail, side by side: for each routing strategy (`balanced`, the
# default, and `price`, which sends everything to the cheapest), one `wharf serve --dev --devnet 6`
# (release), 40 warm-up calls (the hedge delay is learned from them), then the orchestrator the
# warm-up used most slows 10% of its requests by 2 s, and 500 text-to-image calls go through v1 with
# hedging, then 500 with `Wharf-Hedge: off` (the reference), four at a time; `price` once more with
# a retry budget of 15% (under `price` a tenth of all calls are in the tail, the default budget's
# whole allowance). Prints p50, p99 and
# the slowest call of each, and the extra orchestrator requests hedging cost (from the gateway's own
# attempt counter). Writes the tables to $OUT (default: .build/hedging-results.md); paste them into
# docs/PERFORMANCE.md.
#
#   Benchmarks/run-hedging.sh                 builds wharf in release first
#   WHARF_RELEASE_BIN=DIR Benchmarks/...      uses DIR/wharf as it is
#   CALLS=500                                 calls per side
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=${OUT:-$root/.build/hedging-results.md}
source Benchmarks/common.sh
bin=$(release_bin)
work=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
    sleep 1
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
: >"$out"
measure() {
    local strategy=$1 budget=${2:-}
    public=$(free_port)
    admin=$(free_port)
    rm -rf "$work/.wharf"
    (cd "$work" && exec env WHARF_HTTP_PUBLIC_PORT="$public" WHARF_HTTP_ADMIN_PORT="$admin" WHARF_LOG_LEVEL=warning \
        WHARF_ROUTING_STRATEGY="$strategy" ${budget:+WHARF_ROUTING_RETRY_BUDGET_PERCENT=$budget} \
        "$bin/wharf" serve --dev --devnet 6 >"$work/gateway.log" 2>&1) &
    pid=$!
    for _ in $(seq 1 200); do
        [ -s "$work/.wharf/dev-key" ] && curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    python3 - "$public" "$admin" "$(cat "$work/.wharf/dev-key")" "${CALLS:-500}" "$out" "$strategy" "${budget:-10}" <<'PY'
import json, ssl, sys, time, urllib.request
from concurrent.futures import ThreadPoolExecutor

public, admin, key, calls, out, strategy, budget = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6], sys.argv[7]
auth = {"Authorization": f"Bearer {key}"}

def get(url):
    with urllib.request.urlopen(urllib.request.Request(url, headers=auth), timeout=30) as reply:
        return reply.read().decode()

def members():
    return json.loads(get(f"http://127.0.0.1:{admin}/admin/v1/orchestrators"))["data"]

for _ in range(200):
    if sum(1 for m in members() if m["status"] == "available") == 6:
        break
    time.sleep(0.1)

def attempts():
    """The gateway's orchestrator attempts so far, in all and per orchestrator."""
    total, per = 0.0, {}
    for line in get(f"http://127.0.0.1:{admin}/metrics").splitlines():
        if line.startswith("wharf_orchestrator_attempts_total{"):
            name = line.split('orchestrator="', 1)[1].split('"', 1)[0]
            value = float(line.rsplit(" ", 1)[1])
            total += value
            per[name] = per.get(name, 0) + value
    return total, per

body = json.dumps({"prompt": "a lighthouse", "model_id": "", "width": 64, "height": 64}).encode()

def call(headers):
    request = urllib.request.Request(f"http://127.0.0.1:{public}/v1/text-to-image", data=body, method="POST",
                                     headers={**auth, "Content-Type": "application/json", **headers})
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=60) as reply:
        reply.read()
        assert reply.status == 200
    return (time.monotonic() - started) * 1000

def run(count, headers):
    with ThreadPoolExecutor(4) as pool:
        return sorted(pool.map(lambda _: call(headers), range(count)))

run(40, {})
busiest = max(attempts()[1].items(), key=lambda item: item[1])[0]
control = next(m["offer"]["transcoder"] for m in members() if m["address"] == busiest)
faults = urllib.request.Request(control + "/_devnet/faults", method="POST",
                                data=json.dumps({"tail_rate": 0.1, "tail_latency_ms": 2000}).encode())
urllib.request.urlopen(faults, context=ssl._create_unverified_context(), timeout=10).read()

def figures(times):
    return times[len(times) // 2], times[int(len(times) * 0.99) - 1], times[-1]

before = attempts()[0]
hedged = run(calls, {})
extra = attempts()[0] - before - calls
unhedged = run(calls, {"Wharf-Hedge": "off"})
h, u = figures(hedged), figures(unhedged)
lines = [
    f"| `{strategy}`: {calls} text-to-image calls, 4 at a time; 1 of 6 orchestrators slows 10% of its requests by 2 s | p50 ms | p99 ms | slowest ms | extra orchestrator requests |",
    "|---|---|---|---|---|",
    f"| reference: `Wharf-Hedge: off` | {u[0]:.0f} | {u[1]:.0f} | {u[2]:.0f} | (retries only) |",
    f"| hedged (retry budget {budget}%) | {h[0]:.0f} | {h[1]:.0f} | {h[2]:.0f} | {extra:.0f} ({100 * extra / calls:.1f}%) |",
    "",
    f"`{strategy}`: p99 without hedging / with: {u[1] / h[1]:.1f}x; slowest without / with: {u[2] / h[2]:.1f}x.",
    "",
]
print("\n".join(lines))
with open(out, "a") as handle:
    handle.write("\n".join(lines) + "\n")
PY
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
}
measure balanced
measure price
measure price 15
cat "$out"
