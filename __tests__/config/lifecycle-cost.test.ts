/**
 * scripts/deploy/lifecycle-cost.ts: the monthly cost of each dataproc.lifecycle for a config. The arithmetic
 * on round numbers, the schedule's runs, and that the figures follow the config (presets, host counts,
 * schedule) through the stack's own config loader, with errors naming the key.
 */
import { scheduleFrequency } from "../../constructs/airflow-schedule";
import { ConfigError, validateConfig } from "../../constructs/config";
import {
  costReport, configSubclusters, monthlyCosts, ModeCost, parseTiming, PriceBook, readPriceBook, runsPerMonth,
  subclusterCost, Timing,
} from "../../scripts/deploy/lifecycle-cost";
import { deployableRawConfig } from "./deployable";

const TIMING: Timing = { runMinutes: 10, createMinutes: 10, startMinutes: 5, stopMinutes: 5, deleteMinutes: 10 };
const byMode = (costs: ModeCost[]) => Object.fromEntries(costs.map((c) => [c.lifecycle, c]));

describe("monthlyCosts", () => {
  // a cluster at 1 $/h running, its disks 72 $/month; 30 runs a month
  const cluster = { hostsPerHour: 1, disksPerMonth: 72 };

  it("bills always-on the whole month, stop-between-runs its disks plus start+run+stop, per-run only while it exists", () => {
    const c = byMode(monthlyCosts(cluster, 30, TIMING, 720));
    expect(c["always-on"]).toMatchObject({ hostHours: 720, hosts: 720, disks: 72, total: 792 });
    // 30 x (5 + 10 + 5) min = 10 h of hosts; disks all month
    expect(c["stop-between-runs"]).toMatchObject({ hostHours: 10, hosts: 10, disks: 72, total: 82 });
    // 30 x (10 + 10 + 10) min = 15 h of hosts and of disks (15/720 of a month)
    expect(c["per-run"]).toMatchObject({ hostHours: 15, hosts: 15, disks: 1.5, total: 16.5 });
  });

  it("never bills more than the whole month: runs back to back, or more runs than fit, cost what always-on does", () => {
    for (const runs of ["continuous", 100000] as const) {
      const c = byMode(monthlyCosts(cluster, runs, TIMING, 720));
      expect(c["stop-between-runs"].total).toBe(792);
      expect(c["per-run"].total).toBe(792);
    }
  });

  it("bills only the disks of a stopped cluster that never runs", () => {
    const c = byMode(monthlyCosts(cluster, 0, TIMING, 720));
    expect(c["stop-between-runs"].total).toBe(72);
    expect(c["per-run"].total).toBe(0);
  });
});

describe("runsPerMonth (a month of 720 h)", () => {
  it.each([
    ["@daily", 30],
    ["@hourly", 720],
    ["*/5 * * * *", 8640],
    ["0 6,18 * * *", 60],
    ["@weekly", 30 / 7],
    ["0 0 * * 1-5", (30 * 5) / 7],
    // croniter ORs the two day fields when both are restricted: the 1st of the month or a Monday
    ["0 0 1 * 1", 30 * (12 / 365.2425 + 1 / 7 - (12 / 7) / 365.2425)],
  ])("%s: %f", (schedule, expected) => {
    expect(runsPerMonth(schedule, 720)).toBeCloseTo(expected as number, 1);
  });

  it("counts Feb 29 once in four years (less three in 400)", () => {
    const f = scheduleFrequency("0 0 29 2 *");
    expect(f).toEqual({ kind: "cron", runsPerDay: 97 / 146097 });
  });

  it("treats @continuous as back to back and @once as no run a month", () => {
    expect(runsPerMonth("@continuous", 720)).toBe("continuous");
    expect(runsPerMonth("@once", 720)).toBe(0);
  });

  it("refuses what it cannot count (L, W, #) and what Airflow refuses, naming the schedule", () => {
    expect(() => runsPerMonth("0 0 L * *", 720)).toThrow(/"0 0 L \* \*".*L, W, #/);
    expect(() => runsPerMonth("0 0 * * fri#2", 720)).toThrow(/fri#2/);
    expect(() => runsPerMonth("0 0 31 2 *", 720)).toThrow(/never fires/);
  });
});

describe("subclusterCost", () => {
  const book: PriceBook = {
    ...readPriceBook(),
    presetPlatforms: { s3: "P" },
    platforms: { P: { vcpuHour: 1, ramGbHour: 0.1 } },
    diskGbMonth: { "network-ssd": 0.5 },
  };

  it("prices vCPUs and RAM read from the host class, times the hosts, and the disks by type and size", () => {
    const c = subclusterCost({ name: "data", role: "DATANODE", hostsCount: 2, resourcePreset: "s3-c4-m16", diskSizeGb: 100, diskType: "network-ssd" }, book);
    expect(c).toMatchObject({ vcpus: 4, ramGb: 16, hosts: 2 });
    expect(c.hostsPerHour).toBeCloseTo(2 * (4 * 1 + 16 * 0.1));
    expect(c.disksPerMonth).toBeCloseTo(2 * 100 * 0.5);
  });
});

describe("costReport for a config", () => {
  const prices = readPriceBook();
  const total = (raw: Record<string, unknown>, mode: string) => {
    const report = costReport(validateConfig(raw), prices, prices.timing, "test.json");
    const row = report.split("\n").find((l) => l.startsWith(`| ${mode} |`));
    return Number(row!.split("|")[5].trim().replace("$", ""));
  };
  const dataproc = (d: Record<string, unknown>) => deployableRawConfig({ dataproc: { computeMaxHostsCount: 2, ...d } });

  it("reads the cluster the stack builds: the config's presets, host counts and disks", () => {
    const subclusters = configSubclusters(validateConfig(dataproc({ dataHostsCount: 3, dataDiskSizeGb: 200 })));
    expect(subclusters.find((s) => s.role === "DATANODE")).toMatchObject({ hostsCount: 3, diskSizeGb: 200 });
  });

  it("moves with a bigger preset, more data hosts, bigger disks", () => {
    const base = total(dataproc({}), "always-on");
    expect(total(dataproc({ dataResourcePreset: "s3-c8-m32" }), "always-on")).toBeGreaterThan(base);
    expect(total(dataproc({ dataHostsCount: 2 }), "always-on")).toBeGreaterThan(base);
    expect(total(dataproc({ masterDiskSizeGb: 400 }), "stop-between-runs")).toBeGreaterThan(total(dataproc({}), "stop-between-runs"));
    expect(total(dataproc({ computeMaxHostsCount: 0 }), "always-on")).toBeLessThan(base);
  });

  it("moves with the schedule: hourly runs cost more than daily ones when the cluster stops between them", () => {
    const daily = deployableRawConfig({ pipelineSchedule: "@daily" });
    const hourly = deployableRawConfig({ pipelineSchedule: "@hourly" });
    expect(total(hourly, "stop-between-runs")).toBeGreaterThan(total(daily, "stop-between-runs"));
    expect(total(hourly, "per-run")).toBeGreaterThan(total(daily, "per-run"));
    expect(total(hourly, "always-on")).toBe(total(daily, "always-on"));
  });

  it("fails naming the key of a host class or disk type it has no price for", () => {
    const report = (raw: Record<string, unknown>) => costReport(validateConfig(raw), prices, prices.timing, "test.json");
    expect(() => report(dataproc({ dataResourcePreset: "b1.medium" }))).toThrow(ConfigError);
    expect(() => report(dataproc({ dataResourcePreset: "b1.medium" }))).toThrow(/dataproc\.dataResourcePreset.*"b1\.medium"/);
    expect(() => report(dataproc({ computeResourcePreset: "x9-c4-m16" }))).toThrow(/dataproc\.computeResourcePreset/);
    expect(() => report(dataproc({ diskType: "network-ssd-nonreplicated" }))).toThrow(/dataproc\.diskType.*network-ssd-nonreplicated/);
  });
});

describe("parseTiming", () => {
  it("overrides the price book's minutes and refuses anything else", () => {
    expect(parseTiming(["--run-min", "7.5", "--create-min", "12"], TIMING)).toEqual({ ...TIMING, runMinutes: 7.5, createMinutes: 12 });
    expect(() => parseTiming(["--run-min", "-1"], TIMING)).toThrow(/--run-min needs a number of minutes, got "-1"/);
    expect(() => parseTiming(["--fast"], TIMING)).toThrow(/unknown argument "--fast"/);
  });
});
