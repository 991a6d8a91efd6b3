# Sourced by the benchmark scripts that run the `wharf` binary.

# The folder of a release `wharf`: $WHARF_RELEASE_BIN as it is, or a fresh `swift build -c release`.
release_bin() {
    local bin=${WHARF_RELEASE_BIN:-}
    if [ -z "$bin" ]; then
        swift build -c release --product wharf >&2
        bin=.build/release
    fi
    (cd "$bin" && pwd)
}

# A TCP port nobody listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
