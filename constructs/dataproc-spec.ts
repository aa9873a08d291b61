/**
 * The Data Proc cluster the pipeline runs on, as data: one pure function from the stack's settings
 * to the cluster's spec. The stack builds its `yandex_dataproc_cluster` from it (always-on,
 * stop-between-runs), and the pipeline config hands it to the DAG, which creates the same cluster
 * for each run (per-run). No provider binding is imported here (scripts/test/airflow-pipeline-config.ts
 * runs without .gen/).
 */

// config.ts imports this module too: only functions here use what comes from it
import { protectionUnlessDestroyDeletesData, resourceLabels } from "./config";
import type { StackConfig } from "./config";
import { clusterPipPackages, FLEET } from "./fleet-versions";
import { checkProps, PropRules } from "./prop-rules";

/**
 * What happens to the Data Proc cluster between pipeline runs (config `dataproc.lifecycle`, the
 * pipeline config's `cluster_lifecycle`): it runs all the time; the DAG starts it before a run and
 * stops it after; or the stack creates none and each DAG run creates one and deletes it.
 */
export const DATAPROC_LIFECYCLES = ["always-on", "stop-between-runs", "per-run"] as const;
export type DataprocLifecycle = (typeof DATAPROC_LIFECYCLES)[number];

/** Components the pipeline uses: HDFS for its data, YARN to schedule Spark, Spark itself. */
export const DATAPROC_SERVICES = ["HDFS", "YARN", "SPARK"] as const;

/** The autoscaling policy of the compute subcluster (seconds; CPU target in percent). */
export const DATAPROC_AUTOSCALING = {
  measurementDurationSeconds: 60,
  warmupDurationSeconds: 60,
  stabilizationDurationSeconds: 120,
  cpuUtilizationTarget: 75,
  decommissionTimeoutSeconds: 120,
} as const;

export interface DataprocSpecProps {
  readonly namePrefix: string;
  readonly folderId: string;
  readonly zone: string;
  readonly subnetId: string;
  /** The security group of the cluster's nodes (it must carry the `self` rule). */
  readonly securityGroupId: string;
  /** The cluster's service account (nodes: agent, autoscaling, the bucket). */
  readonly serviceAccountId: string;
  /** Bucket for job logs and output; the cluster's account is given write access by the caller. */
  readonly bucketName: string;
  /** OpenSSH public key(s) for the nodes' `ubuntu` user. */
  readonly sshPublicKeys: readonly string[];
  /**
   * Image version: 2.2.9 has Python 3.11.10 and Spark 3.5.6 (the tests run Python 3.11 and Spark 3.5);
   * a prefix such as "2.2" picks the newest 2.2.x.
   *
   * @default DATAPROC_DEFAULTS.imageVersion (versions.json `dataproc.imageVersion`)
   */
  readonly imageVersion?: string;
  /**
   * Host class of the master node.
   *
   * @default DATAPROC_DEFAULTS.masterResourcePreset ("s3-c2-m8")
   */
  readonly masterResourcePreset?: string;
  /**
   * Master disk size in GB.
   *
   * @default DATAPROC_DEFAULTS.masterDiskSizeGb (40)
   */
  readonly masterDiskSizeGb?: number;
  /**
   * Host class of the data nodes (HDFS + YARN NodeManager).
   *
   * @default DATAPROC_DEFAULTS.dataResourcePreset ("s3-c4-m16")
   */
  readonly dataResourcePreset?: string;
  /**
   * Data node disk size in GB.
   *
   * @default DATAPROC_DEFAULTS.dataDiskSizeGb (128)
   */
  readonly dataDiskSizeGb?: number;
  /**
   * Number of data nodes.
   *
   * @default DATAPROC_DEFAULTS.dataHostsCount (1)
   */
  readonly dataHostsCount?: number;
  /**
   * Upper bound of the autoscaling compute subcluster; 0 creates no compute subcluster.
   *
   * @default DATAPROC_DEFAULTS.computeMaxHostsCount (0)
   */
  readonly computeMaxHostsCount?: number;
  /**
   * Host class of the compute nodes.
   *
   * @default DATAPROC_DEFAULTS.computeResourcePreset ("s3-c4-m16")
   */
  readonly computeResourcePreset?: string;
  /**
   * Compute node disk size in GB.
   *
   * @default DATAPROC_DEFAULTS.computeDiskSizeGb (64)
   */
  readonly computeDiskSizeGb?: number;
  /**
   * Disk type of every node.
   *
   * @default DATAPROC_DEFAULTS.diskType ("network-ssd")
   */
  readonly diskType?: string;
  /**
   * Expose the component web UIs (YARN, Spark History) through Yandex's authenticated UI proxy,
   * so no UI port is opened in the security group.
   *
   * @default DATAPROC_DEFAULTS.uiProxy (true)
   */
  readonly uiProxy?: boolean;
  /**
   * Python packages installed on every node at creation (`pip:` properties), as `name==version`.
   *
   * @default - none
   */
  readonly pipPackages?: readonly string[];
  /**
   * Extra cluster properties (`component:key` -> value).
   *
   * @default - none
   */
  readonly properties?: Record<string, string>;
  /**
   * Refuse to delete the cluster.
   *
   * @default DATAPROC_DEFAULTS.deletionProtection (false)
   */
  readonly deletionProtection?: boolean;
  /**
   * Labels put on the cluster.
   *
   * @default - no labels
   */
  readonly labels?: Record<string, string>;
}

/**
 * The one statement of each optional prop's default (`lifecycle` is applied by `DataprocCluster`,
 * dataproc-cluster.ts; it is stated here with the cluster's other settings).
 */
export const DATAPROC_DEFAULTS = {
  lifecycle: "always-on" as DataprocLifecycle,
  imageVersion: FLEET.dataproc.imageVersion,
  masterResourcePreset: "s3-c2-m8",
  masterDiskSizeGb: 40,
  dataResourcePreset: "s3-c4-m16",
  dataDiskSizeGb: 128,
  dataHostsCount: 1,
  computeMaxHostsCount: 0,
  computeResourcePreset: "s3-c4-m16",
  computeDiskSizeGb: 64,
  diskType: "network-ssd",
  uiProxy: true,
  // off: the cluster holds only what the pipeline rebuilds from the bucket (HDFS working data), and
  // a change that recreates the cluster (image version, services) must not be refused
  deletionProtection: false,
} as const;

/**
 * Limits of the optional props (checked by the config loader with the key's name, and by
 * `dataprocClusterSpec`).
 */
export const DATAPROC_RULES: PropRules<DataprocSpecProps & { lifecycle: DataprocLifecycle }> = {
  lifecycle: { kind: "enum", values: DATAPROC_LIFECYCLES },
  imageVersion: { kind: "check", problem: (v) => dataprocImageVersionProblem(v) },
  masterResourcePreset: { kind: "cloudName" },
  masterDiskSizeGb: { kind: "int", min: 20, max: 4096 },
  dataResourcePreset: { kind: "cloudName" },
  dataDiskSizeGb: { kind: "int", min: 20, max: 8192 },
  // HDFS needs a data node
  dataHostsCount: { kind: "int", min: 1, max: 32 },
  computeMaxHostsCount: { kind: "int", min: 0, max: 100 },
  computeResourcePreset: { kind: "cloudName" },
  computeDiskSizeGb: { kind: "int", min: 20, max: 8192 },
  diskType: { kind: "cloudName" },
  uiProxy: { kind: "bool" },
  deletionProtection: { kind: "bool" },
};

/**
 * What is wrong with a Data Proc image version, or undefined. The jobs need Python >= 3.10
 * (mlflow 3): images 2.0 and 2.1 have Python 3.8; 3.11 is documented from 2.2.5.
 */
export function dataprocImageVersionProblem(v: unknown): string | undefined {
  const image = typeof v === "string" ? /^2\.(\d+)(?:\.(\d+))?$/.exec(v) : null;
  if (!image) return "must be a 2.x image version such as 2.2.9";
  const [minor, patch] = [Number(image[1]), image[2] === undefined ? Infinity : Number(image[2])];
  if (minor < 2 || (minor === 2 && patch < 5)) {
    return "must be 2.2.5 or later (Python 3.11; images 2.0 and 2.1 have Python 3.8, which mlflow 3 does not support)";
  }
  return undefined;
}

export type DataprocRole = "MASTERNODE" | "DATANODE" | "COMPUTENODE";

export interface DataprocSubclusterSpec {
  readonly name: string;
  readonly role: DataprocRole;
  /** Hosts it has (master, data) or starts with (compute). */
  readonly hostsCount: number;
  /** Compute only: autoscaling up to this many hosts. */
  readonly maxHostsCount?: number;
  readonly resourcePreset: string;
  readonly diskSizeGb: number;
  readonly diskType: string;
}

export interface DataprocClusterSpec {
  /** The stack's cluster's name (always-on, stop-between-runs). */
  readonly name: string;
  /** Prefix of the per-run clusters' names (`<prefix>-<hash of the run id>`, pipeline_spec.py). */
  readonly runNamePrefix: string;
  readonly folderId: string;
  readonly zone: string;
  readonly subnetId: string;
  readonly securityGroupIds: readonly string[];
  readonly serviceAccountId: string;
  readonly bucket: string;
  readonly imageVersion: string;
  readonly services: readonly string[];
  /** `pip:<name>` -> version for each pip package, then the extra properties. */
  readonly properties: Record<string, string>;
  readonly sshPublicKeys: readonly string[];
  readonly uiProxy: boolean;
  readonly deletionProtection: boolean;
  readonly labels: Record<string, string>;
  /** master, data and (when computeMaxHostsCount > 0) compute; every one without public addresses. */
  readonly subclusters: readonly DataprocSubclusterSpec[];
  /** The compute subcluster's policy, when there is one. */
  readonly autoscaling?: typeof DATAPROC_AUTOSCALING;
}

/** The cluster the settings describe (defaults filled in); throws on a setting no cluster can have. */
export function dataprocClusterSpec(p: DataprocSpecProps): DataprocClusterSpec {
  checkProps("dataproc", p, DATAPROC_RULES);
  const d = DATAPROC_DEFAULTS;
  const computeMax = p.computeMaxHostsCount ?? d.computeMaxHostsCount;
  const dataHosts = p.dataHostsCount ?? d.dataHostsCount;
  if (p.sshPublicKeys.length === 0) throw new Error("dataproc: at least one SSH public key is required");
  const diskType = p.diskType ?? d.diskType;
  const subcluster = (name: string, role: DataprocRole, hostsCount: number, resourcePreset: string, diskSizeGb: number) =>
    ({ name, role, hostsCount, resourcePreset, diskSizeGb, diskType });
  const subclusters: DataprocSubclusterSpec[] = [
    subcluster("master", "MASTERNODE", 1, p.masterResourcePreset ?? d.masterResourcePreset, p.masterDiskSizeGb ?? d.masterDiskSizeGb),
    subcluster("data", "DATANODE", dataHosts, p.dataResourcePreset ?? d.dataResourcePreset, p.dataDiskSizeGb ?? d.dataDiskSizeGb),
  ];
  if (computeMax > 0) {
    subclusters.push({
      ...subcluster("compute", "COMPUTENODE", 1, p.computeResourcePreset ?? d.computeResourcePreset, p.computeDiskSizeGb ?? d.computeDiskSizeGb),
      maxHostsCount: computeMax,
    });
  }
  return {
    name: `${p.namePrefix}-spark`,
    runNamePrefix: `${p.namePrefix}-run`,
    folderId: p.folderId,
    zone: p.zone,
    subnetId: p.subnetId,
    securityGroupIds: [p.securityGroupId],
    serviceAccountId: p.serviceAccountId,
    bucket: p.bucketName,
    imageVersion: p.imageVersion ?? d.imageVersion,
    services: [...DATAPROC_SERVICES],
    properties: {
      ...Object.fromEntries((p.pipPackages ?? []).map((spec) => {
        const [name, version] = spec.split("==");
        return [`pip:${name}`, version];
      })),
      ...(p.properties ?? {}),
    },
    sshPublicKeys: [...p.sshPublicKeys],
    uiProxy: p.uiProxy ?? d.uiProxy,
    deletionProtection: p.deletionProtection ?? d.deletionProtection,
    labels: { ...(p.labels ?? {}) },
    subclusters,
    ...(computeMax > 0 ? { autoscaling: DATAPROC_AUTOSCALING } : {}),
  };
}

/** The cluster settings of a validated config (everything but the ids Terraform assigns). */
export function dataprocSettings(cfg: StackConfig, jobsDir: string): Omit<DataprocSpecProps, "subnetId" | "securityGroupId" | "serviceAccountId" | "bucketName"> {
  const d = cfg.dataproc;
  return {
    namePrefix: cfg.namePrefix,
    folderId: cfg.folderId,
    zone: cfg.zone,
    sshPublicKeys: [cfg.sshPublicKey],
    imageVersion: d.imageVersion,
    masterResourcePreset: d.masterResourcePreset,
    masterDiskSizeGb: d.masterDiskSizeGb,
    dataResourcePreset: d.dataResourcePreset,
    dataDiskSizeGb: d.dataDiskSizeGb,
    dataHostsCount: d.dataHostsCount,
    computeMaxHostsCount: d.computeMaxHostsCount,
    computeResourcePreset: d.computeResourcePreset,
    computeDiskSizeGb: d.computeDiskSizeGb,
    diskType: d.diskType,
    uiProxy: d.uiProxy,
    pipPackages: clusterPipPackages(jobsDir),
    deletionProtection: protectionUnlessDestroyDeletesData(cfg, d.deletionProtection),
    labels: resourceLabels(cfg.namePrefix),
  };
}
