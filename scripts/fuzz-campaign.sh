#!/usr/bin/env bash
# The long fuzz campaign behind docs/RELIABILITY.md: schemathesis against /v1, /v2 and the admin API
# of one `wharf serve --dev --devnet 3` (the Template plugin loaded), EXAMPLES examples per operation,
# the same checks as FuzzTests; then the gateway must still be the same process, serving, with no 5xx
# in its request log other than 502, 503 and 504.
#
#   EXAMPLES=800 scripts/fuzz-campaign.sh            (uses .build/debug; WHARF_BIN=… for another build)
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
examples="${EXAMPLES:-800}"
bin="${WHARF_BIN:-$here/.build/debug/wharf}"
plugin="$(dirname "$(readlink -f "$bin")")/libWharfTemplatePlugin.so"
work="$(mktemp -d)"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

mkdir -p "$work/plugins"
cp "$plugin" "$work/plugins/template.so"
cd "$work"
WHARF_HTTP_PUBLIC_PORT=0 WHARF_HTTP_ADMIN_PORT=0 WHARF_PLUGINS_DIRECTORY="$work/plugins" \
    "$bin" serve --dev --devnet 3 >"$work/out.log" 2>"$work/gateway.log" &
pid=$!
port() { grep -o "\"gw.listener\":\"$1\",\"gw.port\":\"[0-9]*\"" "$work/gateway.log" | grep -o '[0-9]*"$' | tr -d '"'; }
for _ in $(seq 100); do [[ -n "$(port public)" && -n "$(port admin)" && -s .wharf/dev-key ]] && break; sleep 0.2; done
sleep 3  # the devnet's first offers
key="$(cat .wharf/dev-key)"
public="http://127.0.0.1:$(port public)"
admin="http://127.0.0.1:$(port admin)"

run() {
    local api="$1" url="$2" excluded="$3"
    shift 3
    echo "== $api ($examples examples per operation)"
    schemathesis run "$here/openapi/$api.yaml" --url "$url" --header "Authorization: Bearer $key" \
        --checks all --exclude-checks "ignored_auth,positive_data_acceptance$excluded" \
        --max-examples "$examples" --workers 1 --seed 20261125 --no-color "$@" 2>&1 |
        grep -E "generated|passed|failed|ST[0-9]{3}|SUMMARY" || true
}
run v2 "$public/v2" ""
run v1 "$public/v1" ",not_a_server_error" --exclude-path /live-video-to-video
run admin "$admin/admin/v1" ",use_after_free"

kill -0 "$pid" && echo "gateway: still pid $pid"
curl -fsS -o /dev/null -w "healthz: %{http_code}\n" "$public/healthz"
echo "requests logged: $(grep -c '"msg":"request"' "$work/gateway.log")"
echo "undocumented 5xx: $(grep '"msg":"request"' "$work/gateway.log" | grep -o '"http.status":"5[0-9][0-9]"' | grep -vc '50[234]' || true)"
