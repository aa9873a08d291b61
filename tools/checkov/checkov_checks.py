"""Helpers of scripts/test/test-validate.sh around checkov's JSON report of the synthesized stack.

  unencrypt STACK.json OUT.json   copy the stack with the buckets' server-side encryption removed
                                  (the negative case: checkov must then fail CKV_YC_3); prints the
                                  buckets changed
  report REPORT.json STACK.json   print the results for STACK.json; exit 0 only if checkov parsed
                                  it, passed at least one check and failed none
  expect-failure REPORT.json STACK.json CHECK
                                  exit 0 only if CHECK failed for STACK.json
"""
import json
import sys
from pathlib import Path


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def unencrypt(stack_path, out_path):
    stack = load(stack_path)
    changed = []
    for name, bucket in stack.get("resource", {}).get("yandex_storage_bucket", {}).items():
        if bucket.pop("server_side_encryption_configuration", None) is not None:
            changed.append(f"yandex_storage_bucket.{name}")
    if not changed:
        sys.exit(f"no encrypted bucket in {stack_path}: nothing to break")
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(stack, f, indent=1)
    print(" ".join(changed))


def results_for(report_path, stack_path):
    """(passed, failed) result lists of one scanned file. checkov writes one report per framework
    (a list when there are several); each result names the file it came from."""
    report = load(report_path)
    reports = report if isinstance(report, list) else [report]
    want = Path(stack_path).resolve()
    passed, failed, parse_errors = [], [], []
    for r in reports:
        res = r.get("results", {})
        for kind, out in (("passed_checks", passed), ("failed_checks", failed)):
            for c in res.get(kind, []):
                if Path(c.get("file_abs_path", "")).resolve() == want:
                    out.append(c)
        parse_errors += [p for p in res.get("parsing_errors", []) if Path(p).resolve() == want]
    return passed, failed, parse_errors


def describe(c):
    return f"{c['check_id']} {c['check_name']} [{c['resource']}]"


def report(report_path, stack_path):
    passed, failed, parse_errors = results_for(report_path, stack_path)
    for c in failed:
        print(f"FAILED {describe(c)}")
    print(f"checkov: {len(passed)} passed, {len(failed)} failed")
    if parse_errors:
        print(f"checkov could not parse {stack_path}")
        return 1
    if not passed:
        print("checkov passed no check: it did not scan the stack")
        return 1
    return 1 if failed else 0


def expect_failure(report_path, stack_path, check):
    _, failed, _ = results_for(report_path, stack_path)
    hits = [c for c in failed if c["check_id"] == check]
    for c in hits:
        print(f"as expected: FAILED {describe(c)}")
    return 0 if hits else 1


def main(argv):
    cmd, *args = argv
    if cmd == "unencrypt":
        unencrypt(*args)
        return 0
    if cmd == "report":
        return report(*args)
    if cmd == "expect-failure":
        return expect_failure(*args)
    sys.exit(f"unknown command {cmd!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
