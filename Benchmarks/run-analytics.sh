#!/usr/bin/env bash
# Builds the analytics benchmark in release mode and runs it (10 million attempts by default, or the
# number given); paste its table into docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export WHARF_BENCHMARKS=1  # the benchmark targets exist only then (Package.swift)
swift build -c release --product wharf-analytics-benchmark
.build/release/wharf-analytics-benchmark "$@"
