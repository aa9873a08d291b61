/**
 * The jobs' side of the pipeline config contract, asked directly: which configs PipelineConfig
 * (jobs/fraud_jobs/pipeline_spec.py, pure Python) loads. One python3 process for a whole list.
 */
import { execFileSync } from "child_process";
import * as path from "path";

const JOBS_DIR = path.resolve(__dirname, "..", "..", "jobs");

const LOAD = `
import json, sys
sys.path.insert(0, sys.argv[1])
from fraud_jobs.pipeline_spec import PipelineConfig
out = []
for cfg in json.load(sys.stdin):
    try:
        loaded = PipelineConfig.from_mapping(cfg)
        out.append({"ok": True, "schedule": loaded.schedule})
    except (TypeError, ValueError) as exc:
        out.append({"ok": False, "error": str(exc)})
print(json.dumps(out))
`;

export interface PythonLoad {
  readonly ok: boolean;
  readonly schedule?: string;
  readonly error?: string;
}

/** PipelineConfig.from_mapping over each config: loaded (with its schedule) or its error. */
export function loadInPython(configs: readonly unknown[]): PythonLoad[] {
  return JSON.parse(execFileSync("python3", ["-c", LOAD, JOBS_DIR], { input: JSON.stringify(configs) }).toString());
}
