#!/usr/bin/env bash
# Builds the routing benchmark in release mode and runs it; paste its table into docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product wharf-routing-benchmark
.build/release/wharf-routing-benchmark
