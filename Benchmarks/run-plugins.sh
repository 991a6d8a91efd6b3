#!/usr/bin/env bash
# Builds the plugin benchmark and the Template plugin in release mode and runs the benchmark; paste
# its table into docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export WHARF_BENCHMARKS=1  # the benchmark targets exist only then (Package.swift)
swift build -c release --product WharfTemplatePlugin
swift build -c release --product wharf
swift build -c release --product wharf-plugin-benchmark
.build/release/wharf-plugin-benchmark .build/release/libWharfTemplatePlugin.so .build/release/wharf
