#!/usr/bin/env bash
# Builds the routing benchmark in release mode and runs it; paste its table into docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export WHARF_BENCHMARKS=1  # the benchmark targets exist only then (Package.swift)
swift build -c release --product wharf-routing-benchmark
.build/release/wharf-routing-benchmark
