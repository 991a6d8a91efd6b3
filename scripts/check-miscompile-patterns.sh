#!/usr/bin/env bash
# Fails when the code has the shape that Swift 6.3.1 miscompiles in optimized builds: a `return`
# whose value is built around a nested `try await` (for example `return (key, .success(try await f()))`).
# Inside a task's `do` block that shape corrupts the task's result and crashed the release gateway
# (docs/RELIABILITY.md). Bind the awaited value to a constant first, or use `Result(catching:)`.
set -euo pipefail
cd "$(dirname "$0")/.."
if matches=$(grep -rnE 'return [^{]*[(,:] *try await' Sources Plugins Benchmarks); then
    echo "The optimizer defect's shape (docs/RELIABILITY.md): bind the awaited value before returning it." >&2
    echo "$matches" >&2
    exit 1
fi
