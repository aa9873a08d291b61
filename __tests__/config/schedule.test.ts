/**
 * pipelineSchedule is checked at synth with Airflow 3.3.2's rules. The case table is shared with
 * jobs/tests_dag/test_schedule_parity.py, which runs the same cases (and a generated sweep) through
 * Airflow itself, so the two cannot drift apart.
 */
import * as fs from "fs";
import * as path from "path";
import { airflowScheduleProblem } from "../../constructs/airflow-schedule";
import { ConfigError, validateConfig } from "../../constructs/config";
import { deployableRawConfig } from "./deployable";

interface ScheduleCase {
  readonly schedule: string;
  readonly airflow: "ok" | "refused" | "never-fires";
  readonly ours: boolean;
}
const { cases } = JSON.parse(fs.readFileSync(path.join(__dirname, "schedule-cases.json"), "utf8")) as { cases: ScheduleCase[] };

describe("airflowScheduleProblem", () => {
  it.each(cases.map((c) => [JSON.stringify(c.schedule), c.airflow, c.ours, c.schedule] as const))(
    "%s (Airflow: %s) -> accepted: %s",
    (_shown, _airflow, ours, schedule) => {
      expect(airflowScheduleProblem(schedule) === undefined).toBe(ours);
    },
  );

  it("differs from Airflow only where it refuses R or a year field, and says so", () => {
    for (const c of cases.filter((k) => k.ours !== (k.airflow === "ok"))) {
      expect(c.ours).toBe(false);
      expect(airflowScheduleProblem(c.schedule)).toMatch(/uses R|restricts the year/);
    }
  });

  it("explains a refusal: field count, range, never firing", () => {
    expect(airflowScheduleProblem("*/5 * * *")).toMatch(/has 4 field\(s\)/);
    expect(airflowScheduleProblem("61 * * * *")).toMatch(/"61" is out of the minute range 0-59/);
    expect(airflowScheduleProblem("@hourlyy")).toMatch(/presets: @hourly, @daily/);
    expect(airflowScheduleProblem("0 0 30 2 *")).toMatch(/never fires/);
  });
});

describe("config pipelineSchedule", () => {
  it.each(["*/5 * * *", "61 * * * *", "@hourlyy"])("refuses %j at synth with a ConfigError naming the key and value", (bad) => {
    const raw = deployableRawConfig({ pipelineSchedule: bad });
    expect(() => validateConfig(raw)).toThrow(ConfigError);
    expect(() => validateConfig(raw)).toThrow(`config pipelineSchedule = ${JSON.stringify(bad)}`);
  });

  it("keeps a valid schedule as written (Airflow reads the same string)", () => {
    expect(validateConfig(deployableRawConfig({ pipelineSchedule: "30 2 * * MON-FRI" })).pipelineSchedule).toBe("30 2 * * MON-FRI");
  });
});
