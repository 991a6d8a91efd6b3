#!/usr/bin/env bash
# Builds the policy benchmark in release mode and runs it; paste its table into docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product wharf-policy-benchmark
.build/release/wharf-policy-benchmark
