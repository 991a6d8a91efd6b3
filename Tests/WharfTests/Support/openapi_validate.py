"""Validates OpenAPI 3.1 documents with openapi-spec-validator.

Usage:
  openapi_validate.py FILE...

Each FILE must declare `openapi: 3.1.x` and pass openapi-spec-validator's 3.1 checks. Prints one
line per file, `OK FILE` or `FAIL FILE: reason` (followed by indented error details), and exits 1
if any file failed, 2 on bad usage or when openapi-spec-validator is not installed.
"""
import os
import sys

MAX_ERRORS = 20


def first_line(text, limit=300):
    """The first line of a message, shortened; some validator messages embed the whole document."""
    text = str(text).strip()
    line = text.splitlines()[0] if text else repr(text)
    if " within {" in line:
        line = line.split(" within {", 1)[0]
    return line if len(line) <= limit else line[: limit - 3] + "..."


def error_location(error):
    path = "/".join(str(part) for part in getattr(error, "absolute_path", []) or [])
    return f"/{path}" if path else "(document root)"


def check(filename, read_from_filename, validator_class):
    """Returns None when the file is a valid OpenAPI 3.1 document, else (reason, details)."""
    if not os.path.isfile(filename):
        return "no such file", []
    try:
        spec, base_uri = read_from_filename(filename)
    except Exception as error:  # unreadable or not YAML/JSON
        return f"cannot be read as YAML or JSON: {first_line(error)}", []
    if not isinstance(spec, dict):
        return "the document is not a mapping", []
    version = spec.get("openapi")
    if not isinstance(version, str) or not (version == "3.1" or version.startswith("3.1.")):
        if "swagger" in spec:
            found = f"swagger {spec.get('swagger')!r}"
        else:
            found = f"openapi {version!r}" if version is not None else "no 'openapi' field"
        return f"not an OpenAPI 3.1 document ({found})", []
    try:
        errors = list(validator_class(spec, base_uri=base_uri).iter_errors())
    except Exception as error:  # for example an unresolvable $ref
        return f"validation could not run: {first_line(error)}", []
    if not errors:
        return None
    details = [f"{error_location(error)}: {first_line(error.message if hasattr(error, 'message') else error)}"
               for error in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        details.append(f"... and {len(errors) - MAX_ERRORS} more")
    return f"{len(errors)} validation error(s)", details


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        from openapi_spec_validator import OpenAPIV31SpecValidator
        from openapi_spec_validator.readers import read_from_filename
    except ImportError as error:
        print(f"openapi-spec-validator is not installed ({error}); run: pip install openapi-spec-validator",
              file=sys.stderr)
        return 2
    failed = 0
    for filename in argv[1:]:
        result = check(filename, read_from_filename, OpenAPIV31SpecValidator)
        if result is None:
            print(f"OK {filename}: valid OpenAPI 3.1")
            continue
        failed += 1
        reason, details = result
        print(f"FAIL {filename}: {reason}")
        for detail in details:
            print(f"    {detail}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
