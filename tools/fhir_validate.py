#!/usr/bin/env python3
"""Validate FHIR NDJSON files with fhir.resources 8.3.0.

Usage: fhir_validate.py --version stu3|r4b FILE.ndjson [FILE.ndjson ...]

Every line is parsed as JSON and validated with the model class of its
resourceType: fhir.resources.STU3 for v1 (FHIR 3.0.1) output, fhir.resources.R4B
for v2 (R4 / CARIN Blue Button) output. Prints "N passed, M failed" and the
first errors; exits 1 if anything failed (2 on bad usage or missing package).
"""

import argparse
import json
import sys

MAX_REPORTED = 10


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True, choices=["stu3", "r4b"])
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()

    try:
        import fhir.resources  # noqa: F401

        if args.version == "stu3":
            from fhir.resources.STU3 import get_fhir_model_class
        else:
            from fhir.resources.R4B import get_fhir_model_class
    except ImportError as e:
        print(f"fhir.resources is not installed ({e}); pip install 'fhir.resources==8.3.0'", file=sys.stderr)
        return 2

    classes = {}
    passed = failed = 0
    errors = []
    for path in args.files:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                    rt = data["resourceType"]
                    cls = classes.get(rt)
                    if cls is None:
                        cls = classes[rt] = get_fhir_model_class(rt)
                    cls.model_validate(data)
                    passed += 1
                except Exception as e:  # a validation or JSON error: report, keep going
                    failed += 1
                    if len(errors) < MAX_REPORTED:
                        ident = ""
                        try:
                            ident = f" {data.get('resourceType')}/{data.get('id')}"
                        except Exception:
                            pass
                        errors.append(f"{path}:{number}{ident}: {e}")

    print(f"{passed} passed, {failed} failed")
    for e in errors:
        print(e)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
