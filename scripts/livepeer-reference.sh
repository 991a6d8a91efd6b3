#!/usr/bin/env bash
# Fetches the reference the wire-compatibility tests compare against: the protobuf module generated
# by Livepeer from their own .proto, as shipped in the official Python gateway SDK (livepeer-gateway on
# PyPI), plus the Python protobuf runtime. Nothing fetched is committed: it goes under .build/.
set -euo pipefail
cd "$(dirname "$0")/.."

target=.build/livepeer-reference
# The official Livepeer AI SDK (the v1 compatibility check drives Wharf with it, unchanged) and an
# OpenAPI 3.1 validator (for openapi/*.yaml).
if ! python3 -c 'import livepeer_ai, openapi_spec_validator' 2>/dev/null \
    || [ "$(python3 -c 'import importlib.metadata as m; print(m.version("livepeer-ai"))')" != "0.10.0" ]; then
    python3 -m pip install --quiet --disable-pip-version-check 'livepeer-ai==0.10.0' 'openapi-spec-validator>=0.7.1'
fi
# selenium drives Debian's chromium through the web console (ConsoleTests).
if ! python3 -c 'import selenium' 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check 'selenium>=4.20'
fi
# schemathesis fuzzes /v1, /v2 and the admin API against their OpenAPI documents (FuzzTests).
if ! command -v schemathesis >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check 'schemathesis>=4.3,<5'
fi
if [ -f "$target/livepeer_gateway/orch_info.py" ] && python3 -c 'import google.protobuf, grpc, aiohttp' 2>/dev/null; then
    exit 0
fi
python3 -m pip install --quiet --disable-pip-version-check 'protobuf>=6.31.1' 'grpcio>=1.76.0' 'aiohttp>=3.9.0'
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# The SDK asks for Python 3.12 and media libraries as a whole; the parts used here (its generated
# protobuf module and its GetOrchestrator client, orch_info.py) need only protobuf, grpcio and aiohttp, so only
# those modules are unpacked, into a package without the SDK's __init__.
python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version 3.12 -d "$scratch" 'livepeer-gateway==1.0.0'
mkdir -p "$target"
python3 - "$scratch" "$target" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/livepeer_gateway-*.whl")[0]
import os
package = os.path.join(sys.argv[2], "livepeer_gateway")
os.makedirs(package, exist_ok=True)
open(os.path.join(package, "__init__.py"), "w").close()
with zipfile.ZipFile(wheel) as archive:
    for module in ["lp_rpc_pb2", "lp_rpc_pb2_grpc", "orch_info", "errors", "remote_signer", "async_cache", "http"]:
        data = archive.read(f"livepeer_gateway/{module}.py")
        open(os.path.join(package, f"{module}.py"), "wb").write(data)
    open(os.path.join(sys.argv[2], "lp_rpc_pb2.py"), "wb").write(archive.read("livepeer_gateway/lp_rpc_pb2.py"))
PY
echo "livepeer reference module in $target"
