"""Keeps only the resource types and data sources listed in resource-types.txt from a
`terraform providers schema -json` document, and records the provider version the way cdktf's
schema cache expects (`provider_versions`).
Usage: filter_schema.py FULL.json SOURCE VERSION OUT.json TYPES.txt [TYPES.txt...]
A types file lists one type a line as "resource NAME", "data NAME", "NAME" (a resource) or
"data.NAME"; '#' starts a comment. The union of all files is kept.
Exits 1 naming every listed type the provider does not have; writes OUT only on success."""
import json
import os
import re
import sys
import tempfile


NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def read_types(paths: list[str]) -> dict[str, list[str]]:
    wanted: dict[str, list[str]] = {"resource": [], "data": []}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for lineno, raw in enumerate(f, 1):
                line = raw.split("#", 1)[0].strip()
                if not line:
                    continue
                parts = line.split()
                if len(parts) == 1:
                    kind, name = ("data", line[5:]) if line.startswith("data.") else ("resource", line)
                elif len(parts) == 2 and parts[0] in wanted:
                    kind, name = parts
                else:
                    kind, name = "", ""
                if not NAME.match(name):
                    sys.exit(f"{path}:{lineno}: expected 'resource NAME', 'data NAME', 'NAME' or 'data.NAME', got {raw.strip()!r}")
                if name not in wanted[kind]:
                    wanted[kind].append(name)
    return wanted


def main() -> None:
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    full_path, source, version, out_path = sys.argv[1:5]
    with open(full_path, encoding="utf-8") as f:
        full = json.load(f)
    provider = full.get("provider_schemas", {}).get(source)
    if provider is None:
        sys.exit(f"{full_path}: no provider {source!r}; found {sorted(full.get('provider_schemas', {}))}")
    wanted = read_types(sys.argv[5:])
    kept: dict[str, dict] = {"resource_schemas": {}, "data_source_schemas": {}}
    missing = []
    for kind, section in (("resource", "resource_schemas"), ("data", "data_source_schemas")):
        available = provider.get(section, {})
        for name in wanted[kind]:
            if name in available:
                kept[section][name] = available[name]
            else:
                missing.append(f"{kind} {name}")
    if missing:
        sys.exit("not in provider " + version + ": " + ", ".join(missing))
    doc = {
        "format_version": full.get("format_version", "1.0"),
        # Functions and ephemeral resources are left out: the project uses neither, and cdktf 0.21's
        # generator predates ephemeral resources.
        "provider_schemas": {source: {"provider": provider["provider"], **kept}},
        "provider_versions": {source: version},
    }
    out_dir = os.path.dirname(os.path.abspath(out_path))
    fd, tmp = tempfile.mkstemp(dir=out_dir, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, out_path)
    print(f"kept {len(kept['resource_schemas'])} resources, {len(kept['data_source_schemas'])} data sources "
          f"of {len(provider.get('resource_schemas', {}))} / {len(provider.get('data_source_schemas', {}))}")


if __name__ == "__main__":
    main()
