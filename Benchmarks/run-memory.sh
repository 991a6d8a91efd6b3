#!/usr/bin/env bash
# Memory under big files, side by side with nginx serving the same file:
#   1. 20 clients download one 1 GiB file at once, through nginx (the reference: sendfile from disk),
#      through Wharf's `GET /v2/files/{id}` and through `/media/<job>/input.<ext>`;
#   2. 50 `thumbnails.poster` jobs (a frame, an upscale on the devnet, a contact sheet over the
#      whole video) run at once on that one 1 GiB input.
# Wharf's RSS is sampled every 100 ms; the goal is a peak under 300 MB in each. Prints a table (also
# written to $OUT, default .build/memory-results.md) for docs/PERFORMANCE.md.
#
#   Benchmarks/run-memory.sh                 builds wharf and the ThumbnailStudio plugin in release first
#   WHARF_RELEASE_BIN=DIR Benchmarks/...     uses DIR/wharf and DIR/libWharfThumbnailStudioPlugin.so
#   SIZE_MB=1024 CLIENTS=20 JOBS=50          the input's size, downloads and jobs at once
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
size_mb=${SIZE_MB:-1024}
clients=${CLIENTS:-20}
jobs=${JOBS:-50}
out=${OUT:-$root/.build/memory-results.md}

scripts/install-packages.sh nginx-light curl ffmpeg
bin=${WHARF_RELEASE_BIN:-}
if [ -z "$bin" ]; then
    swift build -c release --product wharf
    swift build -c release --product WharfThumbnailStudioPlugin
    bin=.build/release
fi
bin=$(cd "$bin" && pwd)

work=$(mktemp -d)
pids=()
cleanup() {
    [ -f "$work/nginx.conf" ] && nginx -c "$work/nginx.conf" -s stop 2>/dev/null || true
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_mb() { awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# Samples a process's RSS every 100 ms into a file until stopped; `peak FILE` reads the largest.
sample() { while kill -0 "$1" 2>/dev/null; do rss_mb "$1" >>"$2"; echo >>"$2"; sleep 0.1; done; }
peak() { sort -n "$1" | tail -1; }

# The input: a 320×240 video at one frame a second with a loud 8-channel PCM track, as long as it
# takes to reach the size (cheap to decode, large to read).
seconds=$(( size_mb * 1024 * 1024 / (192000 * 8 * 4) + 1 ))
ffmpeg -loglevel error -f lavfi -i "testsrc=size=320x240:rate=1" -f lavfi -i "anoisesrc=sample_rate=192000" \
    -t "$seconds" -ac 8 -c:v mjpeg -c:a pcm_s32le "$work/input.mov"
bytes=$(stat -c %s "$work/input.mov")

mkdir -p "$work/plugins" "$work/www"
cp "$bin/libWharfThumbnailStudioPlugin.so" "$work/plugins/"
ln "$work/input.mov" "$work/www/input.mov"

nginx_port=$(free_port)
cat >"$work/nginx.conf" <<EOF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work;
    server { listen 127.0.0.1:$nginx_port; root $work/www; sendfile on; }
}
EOF
nginx -c "$work/nginx.conf"

public=$(free_port)
admin=$(free_port)
(
    cd "$work"
    exec env WHARF_DATA_DIRECTORY="$work/data" WHARF_HTTP_PUBLIC_PORT="$public" WHARF_HTTP_ADMIN_PORT="$admin" \
        WHARF_PLUGINS_DIRECTORY="$work/plugins" WHARF_API_V2_MAX_FILE_BYTES=$((bytes + 1)) \
        "$bin/wharf" serve --dev --devnet 2
) >"$work/wharf.log" 2>&1 &
wharf=$!
pids+=($wharf)
until curl -sf -o /dev/null "http://127.0.0.1:$admin/readyz"; do
    kill -0 "$wharf" || { tail -20 "$work/wharf.log"; exit 1; }
    sleep 0.05
done
key=$(cat "$work/data/dev-key")
auth="Authorization: Bearer $key"
sleep 2
idle=$(rss_mb "$wharf")

# Downloads `$clients` copies of a URL at once. → "seconds peak_rss_mb rss_before_mb"
downloads() { # url [header]
    local before=$(rss_mb "$wharf")
    local samples=$work/samples-$RANDOM
    sample "$wharf" "$samples" &
    local sampler=$!
    local started=$(date +%s%N)
    local fetches=()
    for _ in $(seq 1 "$clients"); do
        curl -sf -o /dev/null ${2:+-H "$2"} "$1" &
        fetches+=($!)
    done
    wait "${fetches[@]}" || true
    local took=$(( ($(date +%s%N) - started) / 1000000 ))
    kill "$sampler" 2>/dev/null || true
    echo "$(awk -v ms="$took" 'BEGIN { printf "%.1f", ms / 1000 }') $(peak "$samples") $before"
}

upload_started=$(date +%s%N)
file=$(curl -sf -X POST -H 'Expect:' -H "$auth" -H 'Content-Type: video/quicktime' -T "$work/input.mov" "http://127.0.0.1:$public/v2/files" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
upload_s=$(awk -v ns=$(( $(date +%s%N) - upload_started )) 'BEGIN { printf "%.1f", ns / 1e9 }')
after_upload=$(rss_mb "$wharf")

read -r nginx_s _ < <(downloads "http://127.0.0.1:$nginx_port/input.mov")
read -r files_s files_peak files_before < <(downloads "http://127.0.0.1:$public/v2/files/$file" "$auth")

submit() {
    curl -sf -H "$auth" -H 'Content-Type: application/json' "http://127.0.0.1:$public/v2/jobs" \
        -d "{\"preset\":\"thumbnails.poster\",\"input\":{\"file\":\"$file\"},\"parameters\":{\"at\":\"1\",\"prompt\":\"sharper\"}}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
status() { curl -sf -H "$auth" "http://127.0.0.1:$public/v2/jobs/$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'; }

# One job for its /media link to the input, then the downloads through /media.
first=$(submit)
until [[ "$(status "$first")" =~ succeeded|failed|canceled ]]; do sleep 0.5; done
read -r media_s media_peak media_before < <(downloads "http://127.0.0.1:$public/media/$first/input.mov")

# Fifty jobs at once on the same input.
jobs_before=$(rss_mb "$wharf")
samples=$work/samples-jobs
sample "$wharf" "$samples" &
sampler=$!
started=$(date +%s%N)
ids=()
for _ in $(seq 1 "$jobs"); do ids+=("$(submit)"); done
succeeded=0
for id in "${ids[@]}"; do
    until [[ "$(status "$id")" =~ succeeded|failed|canceled ]]; do sleep 0.5; done
    [ "$(status "$id")" = succeeded ] && succeeded=$((succeeded + 1))
done
jobs_s=$(awk -v ns=$(( $(date +%s%N) - started )) 'BEGIN { printf "%.1f", ns / 1e9 }')
kill "$sampler" 2>/dev/null || true
jobs_peak=$(peak "$samples")
disk=$(du -sm "$work/data" | cut -f1)

{
    echo "| what (input $((bytes / 1048576)) MiB) | time | Wharf RSS before | Wharf RSS peak |"
    echo "|---|---|---|---|"
    echo "| idle, after start-up | | | $idle MB |"
    echo "| one upload through \`POST /v2/files\` | $upload_s s | $idle MB | $after_upload MB after |"
    echo "| $clients downloads at once through nginx (the reference) | $nginx_s s | | |"
    echo "| $clients downloads at once through \`GET /v2/files/{id}\` | $files_s s | $files_before MB | $files_peak MB |"
    echo "| one \`thumbnails.poster\` job on that input, then $clients downloads at once through \`/media/<job>/input.mov\` | $media_s s | $media_before MB | $media_peak MB |"
    echo "| $jobs \`thumbnails.poster\` jobs at once on that input ($succeeded succeeded) | $jobs_s s | $jobs_before MB | $jobs_peak MB |"
    echo "| data folder after all of it | | | $disk MB on disk |"
} | tee "$out"
