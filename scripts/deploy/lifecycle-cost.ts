/**
 * Prints what the Data Proc cluster costs a month under each `dataproc.lifecycle`, for the user's own
 * config: the cluster the stack would build (loadConfig, then dataprocSettings/dataprocClusterSpec:
 * presets, host counts, disks), the schedule's runs (scheduleFrequency), and the prices and times of
 * scripts/deploy/lifecycle-cost.json (the only place they are written, each with its source).
 *
 * The billing rules (README, "What each lifecycle costs"): hosts are billed by the hour from the
 * create (or start) command until they are fully stopped; disks while they exist, stopped or not.
 *   always-on          hosts and disks the whole month
 *   stop-between-runs  disks the whole month; hosts for start + run + stop, once per run
 *   per-run            hosts and disks for create + run + delete, once per run
 * Runs never overlap (`max_active_runs` 1), so a cluster is never billed more than the whole month.
 *
 * Usage: npx ts-node scripts/deploy/lifecycle-cost.ts [--run-min M] [--create-min M] [--start-min M]
 *          [--stop-min M] [--delete-min M]     ($YC_MLOPS_CONFIG picks the config, as for synth)
 */
import * as fs from "fs";
import * as path from "path";
import { scheduleFrequency } from "../../constructs/airflow-schedule";
import { ConfigError, DATAPROC_LIFECYCLES, DataprocLifecycle, loadConfig, StackConfig } from "../../constructs/config";
import { dataprocClusterSpec, DataprocRole, dataprocSettings, DataprocSubclusterSpec } from "../../constructs/dataproc-spec";
import { PIPELINE_DEFAULTS } from "../../constructs/pipeline-config";

export const PRICES_FILE = path.join(__dirname, "lifecycle-cost.json");
const JOBS_DIR = path.join(__dirname, "..", "..", "jobs");

/** How long each billed phase takes, in minutes. */
export interface Timing {
  readonly runMinutes: number;
  readonly createMinutes: number;
  readonly startMinutes: number;
  readonly stopMinutes: number;
  readonly deleteMinutes: number;
}

export interface PriceBook {
  readonly currency: string;
  readonly hoursPerMonth: number;
  /** preset family (`s3`) -> platform name */
  readonly presetPlatforms: Readonly<Record<string, string>>;
  readonly platforms: Readonly<Record<string, { readonly vcpuHour: number; readonly ramGbHour: number }>>;
  readonly diskGbMonth: Readonly<Record<string, number>>;
  readonly timing: Timing;
}

/** The price book of scripts/deploy/lifecycle-cost.json (or another file of its shape). */
export function readPriceBook(file: string = PRICES_FILE): PriceBook {
  const raw = JSON.parse(fs.readFileSync(file, "utf8"));
  const families = Object.fromEntries(Object.entries(raw.hosts.presetPlatforms).filter(([k]) => k !== "//")) as Record<string, string>;
  const ops = raw.clusterOperations;
  return {
    currency: raw.currency,
    hoursPerMonth: raw.hoursPerMonth.value,
    presetPlatforms: families,
    platforms: raw.hosts.platforms,
    diskGbMonth: raw.disks.gbMonth,
    timing: {
      runMinutes: raw.run.minutes,
      createMinutes: ops.createMinutes,
      startMinutes: ops.startMinutes,
      stopMinutes: ops.stopMinutes,
      deleteMinutes: ops.deleteMinutes,
    },
  };
}

/** The config key each subcluster's host class comes from (errors name it). */
const PRESET_KEYS: Record<DataprocRole, string> = {
  MASTERNODE: "dataproc.masterResourcePreset",
  DATANODE: "dataproc.dataResourcePreset",
  COMPUTENODE: "dataproc.computeResourcePreset",
};

/** Host classes named `<family><generation>-c<vCPUs>-m<GB RAM>` (s3-c4-m16); others have no price here. */
const PRESET_NAME = /^([a-z]\d)-c(\d+)-m(\d+)$/;

export interface SubclusterCost {
  readonly name: string;
  /** Hosts billed: a subcluster's count; for the autoscaling compute subcluster, its minimum. */
  readonly hosts: number;
  readonly maxHosts?: number;
  readonly resourcePreset: string;
  readonly vcpus: number;
  readonly ramGb: number;
  readonly diskGb: number;
  readonly diskType: string;
  /** Every host of the subcluster, per hour running (vCPU + RAM). */
  readonly hostsPerHour: number;
  /** Every host's disk, per month. */
  readonly disksPerMonth: number;
}

export function subclusterCost(s: DataprocSubclusterSpec, prices: PriceBook): SubclusterCost {
  const m = PRESET_NAME.exec(s.resourcePreset);
  const platform = m ? prices.presetPlatforms[m[1]] : undefined;
  const rate = platform ? prices.platforms[platform] : undefined;
  if (!m || !rate) {
    throw new ConfigError(`${PRESET_KEYS[s.role]}: no price for host class ${JSON.stringify(s.resourcePreset)} (priced: ` +
      `${Object.keys(prices.presetPlatforms).map((f) => `${f}-c<N>-m<N>`).join(", ")}; prices in ${path.basename(PRICES_FILE)})`);
  }
  const diskRate = prices.diskGbMonth[s.diskType];
  if (diskRate === undefined) {
    throw new ConfigError(`dataproc.diskType: no price for disk type ${JSON.stringify(s.diskType)} (priced: ` +
      `${Object.keys(prices.diskGbMonth).join(", ")}; prices in ${path.basename(PRICES_FILE)})`);
  }
  const vcpus = Number(m[2]);
  const ramGb = Number(m[3]);
  return {
    name: s.name,
    hosts: s.hostsCount,
    ...(s.maxHostsCount !== undefined ? { maxHosts: s.maxHostsCount } : {}),
    resourcePreset: s.resourcePreset,
    vcpus,
    ramGb,
    diskGb: s.diskSizeGb,
    diskType: s.diskType,
    hostsPerHour: s.hostsCount * (vcpus * rate.vcpuHour + ramGb * rate.ramGbHour),
    disksPerMonth: s.hostsCount * s.diskSizeGb * diskRate,
  };
}

/** The subclusters of the cluster the config describes (the same spec the stack and the DAG build). */
export function configSubclusters(config: StackConfig): readonly DataprocSubclusterSpec[] {
  return dataprocClusterSpec({
    ...dataprocSettings(config, JOBS_DIR),
    // ids Terraform assigns: they cost nothing and change no figure
    subnetId: "-",
    securityGroupId: "-",
    serviceAccountId: "-",
    bucketName: config.bucketName,
  }).subclusters;
}

/** Runs a month (of `hoursPerMonth`) of an accepted schedule; `continuous` = back to back. */
export function runsPerMonth(schedule: string, hoursPerMonth: number): number | "continuous" {
  const f = scheduleFrequency(schedule);
  if (f.kind === "continuous") return "continuous";
  // @once: one run after the deploy, none in the months after it
  if (f.kind === "once") return 0;
  return (f.runsPerDay * hoursPerMonth) / 24;
}

export interface ModeCost {
  readonly lifecycle: DataprocLifecycle;
  /** Hours a month the hosts are billed. */
  readonly hostHours: number;
  readonly hosts: number;
  readonly disks: number;
  readonly total: number;
}

/** The monthly cost of each lifecycle for a cluster billed `hostsPerHour` running and `disksPerMonth`. */
export function monthlyCosts(
  cluster: { readonly hostsPerHour: number; readonly disksPerMonth: number },
  runs: number | "continuous",
  timing: Timing,
  hoursPerMonth: number,
): ModeCost[] {
  const busyHours = (cycleMinutes: number) =>
    runs === "continuous" ? hoursPerMonth : Math.min(hoursPerMonth, (runs * cycleMinutes) / 60);
  const mode = (lifecycle: DataprocLifecycle, hostHours: number, diskHours: number): ModeCost => {
    const hosts = cluster.hostsPerHour * hostHours;
    const disks = (cluster.disksPerMonth * diskHours) / hoursPerMonth;
    return { lifecycle, hostHours, hosts, disks, total: hosts + disks };
  };
  const stopCycle = busyHours(timing.startMinutes + timing.runMinutes + timing.stopMinutes);
  const perRunCycle = busyHours(timing.createMinutes + timing.runMinutes + timing.deleteMinutes);
  const byMode: Record<DataprocLifecycle, ModeCost> = {
    "always-on": mode("always-on", hoursPerMonth, hoursPerMonth),
    "stop-between-runs": mode("stop-between-runs", stopCycle, hoursPerMonth),
    "per-run": mode("per-run", perRunCycle, perRunCycle),
  };
  return DATAPROC_LIFECYCLES.map((l) => byMode[l]);
}

const money = (x: number, digits = 2) => `$${x.toFixed(digits)}`;

/** The whole printed report: the cluster, the assumptions, and the table of the three lifecycles. */
export function costReport(config: StackConfig, prices: PriceBook, timing: Timing, configFile: string): string {
  const subclusters = configSubclusters(config).map((s) => subclusterCost(s, prices));
  const cluster = {
    hostsPerHour: subclusters.reduce((a, s) => a + s.hostsPerHour, 0),
    disksPerMonth: subclusters.reduce((a, s) => a + s.disksPerMonth, 0),
  };
  // a config without pipelineSchedule runs the pipeline config's default
  const schedule = config.pipelineSchedule ?? PIPELINE_DEFAULTS.schedule;
  const runs = runsPerMonth(schedule, prices.hoursPerMonth);
  const costs = monthlyCosts(cluster, runs, timing, prices.hoursPerMonth);
  const runsText = runs === "continuous" ? "back to back" : `${runs.toFixed(1)} runs`;
  const lines = [
    `Data Proc cluster of ${configFile}; prices ${prices.currency}, a month = ${prices.hoursPerMonth} h (${path.basename(PRICES_FILE)})`,
    "",
    "| subcluster | hosts | host class | vCPU, RAM GB | disk | hosts per hour running | disks per month |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...subclusters.map((s) =>
      `| ${s.name} | ${s.hosts}${s.maxHosts !== undefined ? ` (autoscaling up to ${s.maxHosts}; the minimum is counted)` : ""} | ` +
      `${s.resourcePreset} | ${s.vcpus}, ${s.ramGb} | ${s.diskGb} GB ${s.diskType} | ${money(s.hostsPerHour, 4)} | ${money(s.disksPerMonth)} |`),
    "",
    `Schedule ${JSON.stringify(schedule)}: ${runsText} a month; a run ${timing.runMinutes} min; ` +
      `create ${timing.createMinutes}, start ${timing.startMinutes}, stop ${timing.stopMinutes}, delete ${timing.deleteMinutes} min.`,
    "",
    "| dataproc.lifecycle | hosts billed, h a month | hosts | disks | total a month |",
    "| --- | --- | --- | --- | --- |",
    ...costs.map((c) => `| ${c.lifecycle} | ${c.hostHours.toFixed(1)} | ${money(c.hosts)} | ${money(c.disks)} | ${money(c.total)} |`),
  ];
  return lines.join("\n") + "\n";
}

const TIMING_FLAGS: Record<string, keyof Timing> = {
  "--run-min": "runMinutes",
  "--create-min": "createMinutes",
  "--start-min": "startMinutes",
  "--stop-min": "stopMinutes",
  "--delete-min": "deleteMinutes",
};

/** The price book's times with the command line's overrides. */
export function parseTiming(argv: readonly string[], defaults: Timing): Timing {
  const out: Record<keyof Timing, number> = { ...defaults };
  for (let i = 0; i < argv.length; i += 2) {
    const key = TIMING_FLAGS[argv[i]];
    if (!key) throw new Error(`unknown argument ${JSON.stringify(argv[i])}; options: ${Object.keys(TIMING_FLAGS).join(", ")} MINUTES`);
    const value = argv[i + 1];
    if (value === undefined || !/^\d+(\.\d+)?$/.test(value)) throw new Error(`${argv[i]} needs a number of minutes, got ${JSON.stringify(value)}`);
    out[key] = Number(value);
  }
  return out;
}

if (require.main === module) {
  try {
    const { config, file } = loadConfig();
    const prices = readPriceBook();
    process.stdout.write(costReport(config, prices, parseTiming(process.argv.slice(2), prices.timing), path.relative(process.cwd(), file)));
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    process.exit(2);
  }
}
