"""Checks Wharf's Livepeer protobuf definitions against Livepeer's own generated module.

Usage:
  livepeer_wire_check.py REFERENCE_DIR compare OUR_DESCRIPTOR_SET
      Every message, field (name, number, type, label, message/enum type) and service method Wharf
      defines must exist in the reference with the same shape. Prints one line per mismatch.
  livepeer_wire_check.py REFERENCE_DIR decode MESSAGE < base64
      Parses the bytes with the reference class and prints them as JSON (proto field names).
  livepeer_wire_check.py REFERENCE_DIR sdk-get-orchestrator ADDRESS
      Calls GetOrchestrator with the official SDK's own client (TLS, trust on first use, offchain)
      and prints the OrchestratorInfo as JSON.
"""
import base64
import json
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, json_format


def repeated(field):
    return getattr(field, "is_repeated", None) if hasattr(field, "is_repeated") else field.label == field.LABEL_REPEATED


def compare_message(ours, theirs, problems, counts):
    for field in ours.fields:
        counts["fields"] += 1
        other = theirs.fields_by_number.get(field.number)
        where = f"{ours.full_name}.{field.name} = {field.number}"
        if other is None:
            problems.append(f"{where}: no field with this number in the reference")
            continue
        if other.name != field.name:
            problems.append(f"{where}: the reference calls it {other.name}")
        if other.type != field.type:
            problems.append(f"{where}: type {field.type}, reference has {other.type}")
        if repeated(other) != repeated(field):
            problems.append(f"{where}: repeated differs from the reference")
        for kind in ("message_type", "enum_type"):
            mine, reference = getattr(field, kind), getattr(other, kind)
            if (mine is None) != (reference is None) or (mine and mine.full_name != reference.full_name):
                problems.append(f"{where}: {kind} differs from the reference")
    for nested in ours.nested_types:
        other = theirs.nested_types_by_name.get(nested.name)
        if other is None:
            problems.append(f"{nested.full_name}: not in the reference")
        else:
            compare_message(nested, other, problems, counts)
    for enum in ours.enum_types:
        other = theirs.enum_types_by_name.get(enum.name)
        if other is None:
            problems.append(f"{enum.full_name}: not in the reference")
            continue
        for value in enum.values:
            if other.values_by_name.get(value.name) is None or other.values_by_name[value.name].number != value.number:
                problems.append(f"{enum.full_name}.{value.name} = {value.number}: differs from the reference")


def compare(reference, descriptor_set_path):
    file_set = descriptor_pb2.FileDescriptorSet()
    with open(descriptor_set_path, "rb") as handle:
        file_set.ParseFromString(handle.read())
    pool = descriptor_pool.DescriptorPool()
    for proto in file_set.file:
        pool.Add(proto)
    ours = pool.FindFileByName(file_set.file[-1].name)
    problems, counts = [], {"messages": 0, "fields": 0, "methods": 0}
    if ours.package != reference.DESCRIPTOR.package:
        problems.append(f"package {ours.package}, reference has {reference.DESCRIPTOR.package}")
    for name, message in ours.message_types_by_name.items():
        counts["messages"] += 1
        theirs = reference.DESCRIPTOR.message_types_by_name.get(name)
        if theirs is None:
            problems.append(f"{name}: not in the reference")
        else:
            compare_message(message, theirs, problems, counts)
    for name, service in ours.services_by_name.items():
        theirs = reference.DESCRIPTOR.services_by_name.get(name)
        for method in service.methods:
            counts["methods"] += 1
            other = theirs.methods_by_name.get(method.name) if theirs else None
            if other is None:
                problems.append(f"{name}.{method.name}: not in the reference")
            elif (other.input_type.full_name, other.output_type.full_name) != (
                method.input_type.full_name,
                method.output_type.full_name,
            ):
                problems.append(f"{name}.{method.name}: request/response types differ from the reference")
    for problem in problems:
        print(problem)
    print(f"compared {counts['messages']} messages, {counts['fields']} fields, {counts['methods']} methods: "
          f"{len(problems)} mismatches")
    return 1 if problems else 0


def decode(reference, message_name):
    message = getattr(reference, message_name)()
    message.ParseFromString(base64.b64decode(sys.stdin.read().strip()))
    print(json.dumps(json_format.MessageToDict(message, preserving_proto_field_name=True), sort_keys=True))
    return 0


def sdk_get_orchestrator(address):
    from livepeer_gateway import orch_info

    info = orch_info.get_orch_info(address)
    print(json.dumps(json_format.MessageToDict(info, preserving_proto_field_name=True), sort_keys=True))
    return 0


def main():
    sys.path.insert(0, sys.argv[1])
    import lp_rpc_pb2

    command = sys.argv[2]
    if command == "compare":
        return compare(lp_rpc_pb2, sys.argv[3])
    if command == "decode":
        return decode(lp_rpc_pb2, sys.argv[3])
    if command == "sdk-get-orchestrator":
        return sdk_get_orchestrator(sys.argv[3])
    print(f"unknown command {command}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
