#!/usr/bin/env python3
"""check-jsonl.py SCHEMA FILE...: every line of every FILE is JSON valid against SCHEMA
(docs/schema/); the last line of each file is a summary. Exit 1 naming the first bad line."""
import json
import sys

import jsonschema


def main():
    schema = json.load(open(sys.argv[1]))
    validator = jsonschema.Draft202012Validator(schema)
    for path in sys.argv[2:]:
        lines = open(path).read().splitlines()
        if not lines:
            print(f"{path}: empty")
            return 1
        for n, line in enumerate(lines, 1):
            try:
                doc = json.loads(line)
            except ValueError as e:
                print(f"{path}:{n}: not JSON: {e}")
                return 1
            errors = sorted(validator.iter_errors(doc), key=lambda e: e.path)
            if errors:
                print(f"{path}:{n}: {errors[0].message}")
                return 1
        if json.loads(lines[-1]).get("type") != "summary":
            print(f"{path}: the last line is not the summary")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
