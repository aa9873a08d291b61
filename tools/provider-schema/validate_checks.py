"""Helpers of scripts/test/test-validate.sh around `terraform validate -json`.

  report VALIDATE.json            print the diagnostics; exit 0 only if valid with no errors
  drop-required STACK.json SCHEMA.json OUT.json
                                  copy the stack with one required argument removed (the subnet's
                                  network_id when present); prints "TYPE.NAME ARG"
  add-unknown STACK.json OUT.json copy the stack with an argument the provider does not have added
                                  to one resource; prints "TYPE.NAME ARG"
  expect-error VALIDATE.json TEXT exit 0 only if validation failed with an error mentioning TEXT
"""
import json
import sys

PREFERRED = [("yandex_vpc_subnet", "network_id"), ("yandex_compute_instance", "boot_disk")]
UNKNOWN_ARG = "argument_the_provider_does_not_have"


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def dump(doc, path):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)


def describe(diag):
    where = ""
    rng = diag.get("range")
    if rng:
        where = f" ({rng.get('filename')}:{rng.get('start', {}).get('line')})"
    addr = f" [{diag['address']}]" if diag.get("address") else ""
    detail = diag.get("detail", "").strip().replace("\n", " ")
    return f"{diag.get('severity', '?')}: {diag.get('summary', '')}{addr}{where}: {detail}"


def report(path):
    result = load(path)
    for diag in result.get("diagnostics", []):
        print("  " + describe(diag))
    ok = result.get("valid") is True and result.get("error_count", 0) == 0
    print(f"  valid={result.get('valid')} errors={result.get('error_count')} warnings={result.get('warning_count')}")
    return 0 if ok else 1


def resources(stack):
    for rtype, instances in stack.get("resource", {}).items():
        for name, body in instances.items():
            yield rtype, name, body


def drop_required(stack_path, schema_path, out_path):
    stack, schema = load(stack_path), load(schema_path)
    (provider,) = schema["provider_schemas"].values()
    present = {(t, n): b for t, n, b in resources(stack)}
    candidates = [(t, n, a) for pt, a in PREFERRED for (t, n), b in present.items() if pt == t and a in b]
    if not candidates:  # any resource with a required attribute or block that it sets
        for (t, n), b in present.items():
            block = provider["resource_schemas"].get(t, {}).get("block", {})
            required = [a for a, s in block.get("attributes", {}).items() if s.get("required")]
            required += [a for a, s in block.get("block_types", {}).items() if s.get("min_items", 0) > 0]
            candidates += [(t, n, a) for a in required if a in b]
    if not candidates:
        sys.exit(f"{stack_path}: no resource sets a required argument; cannot build the negative case")
    rtype, name, arg = candidates[0]
    del stack["resource"][rtype][name][arg]
    dump(stack, out_path)
    print(f"{rtype}.{name} {arg}")
    return 0


def add_unknown(stack_path, out_path):
    stack = load(stack_path)
    # a provider's resource (not Terraform's built-in terraform_data): the case is about its schema
    rtype, name, body = next(((t, n, b) for t, n, b in resources(stack) if t.startswith("yandex_")), (None, None, None))
    if body is None:
        sys.exit(f"{stack_path}: no resources")
    body[UNKNOWN_ARG] = "x"
    dump(stack, out_path)
    print(f"{rtype}.{name} {UNKNOWN_ARG}")
    return 0


def expect_error(path, text):
    result = load(path)
    errors = [d for d in result.get("diagnostics", []) if d.get("severity") == "error"]
    hits = [d for d in errors if text in json.dumps(d)]
    for diag in hits or errors:
        print("  " + describe(diag))
    if result.get("valid") is not False or not hits:
        print(f"  expected an error mentioning {text!r}; got valid={result.get('valid')} with {len(errors)} error(s)")
        return 1
    return 0


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    sys.exit({"report": report, "drop-required": drop_required, "add-unknown": add_unknown,
              "expect-error": expect_error}[cmd](*args))
