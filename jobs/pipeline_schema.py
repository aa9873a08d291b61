"""The pipeline config's JSON Schema, generated from PipelineConfig (fraud_jobs/pipeline_spec.py).

The schema is the contract between the stack (TypeScript writes the config the Airflow VM's DAG
reads; it validates that config against this schema at synth) and the jobs (PipelineConfig loads
it). It is derived from the dataclasses' fields, types and defaults and from the rule tables of
pipeline_spec.py, never written by hand: the committed jobs/pipeline-config.schema.json must equal
what this program prints (jobs/tests/test_pipeline_schema.py checks it).

It states keys, types, required keys, choices, defaults and the top-level numbers' bounds;
the remaining value rules (cluster name prefixes, grid value bounds, cross-key rules) are checked by
PipelineConfig when the DAG loads the file.

Usage: python jobs/pipeline_schema.py [--write]   (prints the schema, or writes the committed file)
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import types
import typing
from typing import Any, Mapping

JOBS_DIR = os.path.dirname(os.path.abspath(__file__))
if JOBS_DIR not in sys.path:
    sys.path.insert(0, JOBS_DIR)

from fraud_jobs import pipeline_spec as spec  # noqa: E402  (pure Python, no job dependency)

SCHEMA_FILE = os.path.join(JOBS_DIR, "pipeline-config.schema.json")

_SCALARS = {str: "string", bool: "boolean", int: "integer", float: "number"}


def _type_schema(hint: Any) -> dict[str, Any]:
    """JSON Schema of a dataclass field's type (the types the spec's dataclasses use)."""
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}
    if dataclasses.is_dataclass(hint):
        return _object_schema(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        (inner,) = [a for a in args if a is not type(None)]
        return _type_schema(inner)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return {"type": "array", "items": _type_schema(args[0])}
    if isinstance(origin, type) and issubclass(origin, Mapping):
        return {"type": "object", "additionalProperties": _type_schema(args[1])}
    raise TypeError(f"no JSON Schema for the field type {hint!r}: extend jobs/pipeline_schema.py")


def _object_schema(cls: type, keys: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A dataclass as a closed object: its fields (or `keys` of them); those without a default are
    required, except string maps, which the loader reads as empty when absent."""
    hints = typing.get_type_hints(cls)
    props, required = {}, []
    for f in dataclasses.fields(cls):
        if keys is not None and f.name not in keys:
            continue
        props[f.name] = _type_schema(hints[f.name])
        origin = typing.get_origin(hints[f.name])
        optional = (f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
                    or (origin is not None and isinstance(origin, type) and issubclass(origin, Mapping)))
        if not optional:
            required.append(f.name)
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def _cluster_schema() -> dict[str, Any]:
    """`dataproc_cluster`: empty, or a per-run cluster spec (ClusterSpec, its subclusters' keys by role)."""
    spec_schema = _object_schema(spec.ClusterSpec)
    for role, keys in spec.SUBCLUSTER_KEYS.items():
        # the loader needs every key of a role (SubclusterSpec's defaults are for other callers)
        spec_schema["properties"][role] = {**_object_schema(spec.SubclusterSpec, keys), "required": list(keys)}
    return {"anyOf": [{"type": "object", "maxProperties": 0}, spec_schema]}


def _grid_schema(model: str) -> dict[str, Any]:
    """`<model>_grid`: per searchable key, a non-empty list of values (GridKey.parse also takes the
    values as strings, as the train step's flags do)."""
    props = {}
    for key, grid_key in spec.GRID_KEYS[model].items():
        kinds = [_SCALARS[grid_key.kind]] + (["string"] if grid_key.kind is not str else [])
        props[key] = {"type": "array", "minItems": 1,
                      "items": {"type": kinds[0] if len(kinds) == 1 else kinds}}
    return {"type": "object", "properties": props, "additionalProperties": False}


def pipeline_config_schema() -> dict[str, Any]:
    """The JSON Schema of the pipeline config file (PipelineConfig.from_mapping's input)."""
    hints = typing.get_type_hints(spec.PipelineConfig)
    defaults = spec.PipelineConfig()
    props: dict[str, Any] = {}
    for f in dataclasses.fields(spec.PipelineConfig):
        if f.name == "dataproc_cluster":
            prop = _cluster_schema()
        elif f.name.endswith("_grid") and f.name[: -len("_grid")] in spec.GRID_KEYS:
            prop = _grid_schema(f.name[: -len("_grid")])
        else:
            prop = _type_schema(hints[f.name])
        if f.name in spec.CONFIG_CHOICES:
            prop["enum"] = list(spec.CONFIG_CHOICES[f.name])
        if f.name in spec.CONFIG_MINIMUMS:
            prop["minimum"] = spec.CONFIG_MINIMUMS[f.name]
        if f.name in spec.CONFIG_MAXIMUMS:
            prop["maximum"] = spec.CONFIG_MAXIMUMS[f.name]
        if f.name in spec.CONFIG_OPEN_RANGES:
            low, high = spec.CONFIG_OPEN_RANGES[f.name]
            prop["exclusiveMinimum"] = low
            if high is not None:
                prop["exclusiveMaximum"] = high
        prop["default"] = json.loads(json.dumps(getattr(defaults, f.name)))
        props[f.name] = prop
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": "Generated by jobs/pipeline_schema.py from PipelineConfig in jobs/fraud_jobs/pipeline_spec.py: "
                    "do not edit; run `python3 jobs/pipeline_schema.py --write`.",
        "title": "fraud pipeline config",
        "type": "object",
        "properties": props,
        "additionalProperties": False,
    }


def render() -> str:
    """The schema file's text (stable key order, trailing newline)."""
    return json.dumps(pipeline_config_schema(), indent=2) + "\n"


def main(argv: list[str]) -> int:
    if argv not in ([], ["--write"]):
        print("usage: python jobs/pipeline_schema.py [--write]", file=sys.stderr)
        return 2
    if argv == ["--write"]:
        with open(SCHEMA_FILE + ".tmp", "w", encoding="utf-8") as fh:
            fh.write(render())
        os.replace(SCHEMA_FILE + ".tmp", SCHEMA_FILE)
        print(SCHEMA_FILE)
    else:
        sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
