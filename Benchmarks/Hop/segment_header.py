"""Prints a `Livepeer-Segment` header value for sending AI requests straight to an orchestrator.

Usage: segment_header.py REFERENCE_DIR ADDRESS

It asks the orchestrator for its offer with GetOrchestrator through the official Python gateway
SDK's own client (TLS, trust on first use) and wraps the auth token it hands out in a SegData, as a
gateway does; the value is valid as long as that token (30 minutes on a devnet orchestrator).
"""
import base64
import sys


def main():
    sys.path.insert(0, sys.argv[1])
    import lp_rpc_pb2
    from livepeer_gateway import orch_info

    info = orch_info.get_orch_info(sys.argv[2])
    segment = lp_rpc_pb2.SegData()
    segment.auth_token.CopyFrom(info.auth_token)
    print(base64.b64encode(segment.SerializeToString()).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
