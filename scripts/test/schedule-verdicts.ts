/**
 * Reads a JSON list of schedule strings on stdin and prints, as a JSON list, what the synth-time
 * check says of each (null = accepted, else the reason). Used by jobs/tests_dag/test_schedule_parity.py
 * to compare constructs/airflow-schedule.ts with Airflow itself.
 * Usage: node -r ts-node/register/transpile-only scripts/test/schedule-verdicts.ts < schedules.json
 */
import * as fs from "fs";
import { airflowScheduleProblem } from "../../constructs/airflow-schedule";

const schedules: unknown = JSON.parse(fs.readFileSync(0, "utf8"));
if (!Array.isArray(schedules) || !schedules.every((s) => typeof s === "string")) {
  console.error("error: expected a JSON list of strings on stdin");
  process.exit(2);
}
process.stdout.write(JSON.stringify(schedules.map((s: string) => airflowScheduleProblem(s) ?? null)));
