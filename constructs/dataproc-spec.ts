/**
 * The Data Proc cluster the pipeline runs on, as data: one pure function from the stack's settings
 * to the cluster's spec. The stack builds its `yandex_dataproc_cluster` from it (always-on,
 * stop-between-runs), and the pipeline config hands it to the DAG, which creates the same cluster
 * for each run (per-run). No provider binding is imported here (scripts/airflow-pipeline-config.ts
 * runs without .gen/).
 */

import { resourceLabels, StackConfig } from "./config";
import { clusterPipPackages, FLEET } from "./fleet-versions";

export { DATAPROC_LIFECYCLES } from "./config";
export type { DataprocLifecycle } from "./config";

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
   * @default versions.json `dataproc.imageVersion`
   */
  readonly imageVersion?: string;
  /**
   * Host class of the master node.
   *
   * @default "s3-c2-m8"
   */
  readonly masterResourcePreset?: string;
  /**
   * Master disk size in GB.
   *
   * @default 40
   */
  readonly masterDiskSizeGb?: number;
  /**
   * Host class of the data nodes (HDFS + YARN NodeManager).
   *
   * @default "s3-c4-m16"
   */
  readonly dataResourcePreset?: string;
  /**
   * Data node disk size in GB.
   *
   * @default 128
   */
  readonly dataDiskSizeGb?: number;
  /**
   * Number of data nodes.
   *
   * @default 1
   */
  readonly dataHostsCount?: number;
  /**
   * Upper bound of the autoscaling compute subcluster; 0 creates no compute subcluster.
   *
   * @default 0
   */
  readonly computeMaxHostsCount?: number;
  /**
   * Host class of the compute nodes.
   *
   * @default "s3-c4-m16"
   */
  readonly computeResourcePreset?: string;
  /**
   * Compute node disk size in GB.
   *
   * @default 64
   */
  readonly computeDiskSizeGb?: number;
  /**
   * Disk type of every node.
   *
   * @default "network-ssd"
   */
  readonly diskType?: string;
  /**
   * Expose the component web UIs (YARN, Spark History) through Yandex's authenticated UI proxy,
   * so no UI port is opened in the security group.
   *
   * @default true
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
   * @default false
   */
  readonly deletionProtection?: boolean;
  /**
   * Labels put on the cluster.
   *
   * @default - no labels
   */
  readonly labels?: Record<string, string>;
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
  const computeMax = p.computeMaxHostsCount ?? 0;
  const dataHosts = p.dataHostsCount ?? 1;
  if (dataHosts < 1) throw new Error(`dataproc: dataHostsCount ${dataHosts} must be at least 1 (HDFS needs a data node)`);
  if (p.sshPublicKeys.length === 0) throw new Error("dataproc: at least one SSH public key is required");
  const diskType = p.diskType ?? "network-ssd";
  const subcluster = (name: string, role: DataprocRole, hostsCount: number, resourcePreset: string, diskSizeGb: number) =>
    ({ name, role, hostsCount, resourcePreset, diskSizeGb, diskType });
  const subclusters: DataprocSubclusterSpec[] = [
    subcluster("master", "MASTERNODE", 1, p.masterResourcePreset ?? "s3-c2-m8", p.masterDiskSizeGb ?? 40),
    subcluster("data", "DATANODE", dataHosts, p.dataResourcePreset ?? "s3-c4-m16", p.dataDiskSizeGb ?? 128),
  ];
  if (computeMax > 0) {
    subclusters.push({
      ...subcluster("compute", "COMPUTENODE", 1, p.computeResourcePreset ?? "s3-c4-m16", p.computeDiskSizeGb ?? 64),
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
    imageVersion: p.imageVersion ?? FLEET.dataproc.imageVersion,
    services: [...DATAPROC_SERVICES],
    properties: {
      ...Object.fromEntries((p.pipPackages ?? []).map((spec) => {
        const [name, version] = spec.split("==");
        return [`pip:${name}`, version];
      })),
      ...(p.properties ?? {}),
    },
    sshPublicKeys: [...p.sshPublicKeys],
    uiProxy: p.uiProxy ?? true,
    deletionProtection: p.deletionProtection ?? false,
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
    deletionProtection: d.deletionProtection,
    labels: resourceLabels(cfg.namePrefix),
  };
}
