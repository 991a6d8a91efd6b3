#!/usr/bin/env bash
# Fetches the reference the wire-compatibility tests compare against: the protobuf module generated
# by Livepeer from their own .proto, as shipped in the official Python gateway SDK (livepeer-gateway on
# PyPI), plus the Python protobuf runtime. Nothing fetched is committed: it goes under .build/.
set -euo pipefail
cd "$(dirname "$0")/.."

target=.build/livepeer-reference
if [ -f "$target/lp_rpc_pb2.py" ] && python3 -c 'import google.protobuf' 2>/dev/null; then
    exit 0
fi
python3 -m pip install --quiet --disable-pip-version-check 'protobuf>=6.31.1'
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# The SDK needs Python 3.12 to run; its generated protobuf module needs only the protobuf runtime.
python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.12 -d "$scratch" 'livepeer-gateway==1.0.0'
mkdir -p "$target"
python3 - "$scratch" "$target" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/livepeer_gateway-*.whl")[0]
with zipfile.ZipFile(wheel) as archive:
    data = archive.read("livepeer_gateway/lp_rpc_pb2.py")
open(sys.argv[2] + "/lp_rpc_pb2.py", "wb").write(data)
PY
echo "livepeer reference module in $target"
