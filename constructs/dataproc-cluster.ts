import { Construct } from "constructs";
import { DataprocCluster as DataprocClusterResource } from "../.gen/providers/yandex/dataproc-cluster";
import { IamServiceAccount } from "../.gen/providers/yandex/iam-service-account";
import { ResourcemanagerFolderIamMember } from "../.gen/providers/yandex/resourcemanager-folder-iam-member";
import { DATAPROC_DEFAULTS, DataprocClusterSpec, dataprocClusterSpec, DataprocLifecycle, DataprocSpecProps } from "./dataproc-spec";

export { DATAPROC_DEFAULTS, DATAPROC_SERVICES } from "./dataproc-spec";

/** Runs the cluster: host state, jobs, log groups. */
export const DATAPROC_AGENT_ROLE = "dataproc.agent";
/** Lets Data Proc create and remove the instance group of an autoscaling subcluster. */
export const DATAPROC_PROVISIONER_ROLE = "dataproc.provisioner";

export interface DataprocClusterProps extends Omit<DataprocSpecProps, "serviceAccountId"> {
  /**
   * What happens to the cluster between pipeline runs. `per-run`: the stack creates no cluster (each
   * DAG run creates one from `spec`), only its service account and the account's roles.
   *
   * @default DATAPROC_DEFAULTS.lifecycle ("always-on")
   */
  readonly lifecycle?: DataprocLifecycle;
}

/**
 * The Data Proc cluster (HDFS, YARN, Spark) that runs the pipeline's PySpark jobs, with its own
 * service account holding exactly the roles Data Proc needs: `dataproc.agent`, plus
 * `dataproc.provisioner` only when the autoscaling compute subcluster exists. Bucket access is
 * granted on the bucket itself by the caller (`ArtifactStorage.grantReadWrite`).
 *
 * The cluster itself is a Terraform resource unless the lifecycle is `per-run`; then `spec` is what
 * each DAG run creates (and `cluster` and `clusterId` are undefined).
 */
export class DataprocCluster extends Construct {
  /** The stack's cluster; undefined for `per-run`. @attribute */
  public readonly clusterId?: string;
  /** The cluster's service account. @attribute */
  public readonly serviceAccountId: string;
  /** Folder roles given to the service account. */
  public readonly folderRoles: readonly string[];
  /** The folder grants of the service account (a cluster must not be created before them). */
  public readonly grants: readonly ResourcemanagerFolderIamMember[];
  /** The cluster, as the stack creates it or as each run creates it. */
  public readonly spec: DataprocClusterSpec;
  public readonly lifecycle: DataprocLifecycle;
  public readonly cluster?: DataprocClusterResource;

  constructor(scope: Construct, id: string, props: DataprocClusterProps) {
    super(scope, id);
    this.lifecycle = props.lifecycle ?? DATAPROC_DEFAULTS.lifecycle;
    const sa = new IamServiceAccount(this, "ServiceAccount", {
      name: `${props.namePrefix}-dataproc`,
      folderId: props.folderId,
      description: "Data Proc cluster nodes: agent, autoscaling, the pipeline bucket",
      labels: props.labels,
    });
    this.serviceAccountId = sa.id;
    const spec = dataprocClusterSpec({ ...props, serviceAccountId: sa.id });
    this.spec = spec;

    const autoscaling = spec.subclusters.some((s) => s.role === "COMPUTENODE");
    this.folderRoles = autoscaling ? [DATAPROC_AGENT_ROLE, DATAPROC_PROVISIONER_ROLE] : [DATAPROC_AGENT_ROLE];
    this.grants = this.folderRoles.map(
      (role) =>
        new ResourcemanagerFolderIamMember(this, `Role-${role}`, {
          folderId: props.folderId,
          role,
          member: `serviceAccount:${sa.id}`,
          // IAM changes take a while to propagate; without the pause cluster creation can fail.
          sleepAfter: 30,
        }),
    );
    if (this.lifecycle === "per-run") return;

    const a = spec.autoscaling;
    this.cluster = new DataprocClusterResource(this, "Resource", {
      name: spec.name,
      folderId: spec.folderId,
      description: "Spark for the fraud-model pipeline",
      zoneId: spec.zone,
      serviceAccountId: spec.serviceAccountId,
      bucket: spec.bucket,
      securityGroupIds: [...spec.securityGroupIds],
      uiProxy: spec.uiProxy,
      deletionProtection: spec.deletionProtection,
      labels: props.labels,
      clusterConfig: {
        versionId: spec.imageVersion,
        hadoop: {
          services: [...spec.services],
          properties: spec.properties,
          sshPublicKeys: [...spec.sshPublicKeys],
        },
        // every subcluster sits in the one subnet, without public addresses (reached via the UI proxy).
        subclusterSpec: spec.subclusters.map((s) => ({
          name: s.name,
          role: s.role,
          hostsCount: s.hostsCount,
          subnetId: spec.subnetId,
          assignPublicIp: false,
          resources: { resourcePresetId: s.resourcePreset, diskSize: s.diskSizeGb, diskTypeId: s.diskType },
          // durations are strings of whole seconds in the provider's schema.
          ...(s.maxHostsCount !== undefined && a
            ? {
                autoscalingConfig: {
                  maxHostsCount: s.maxHostsCount,
                  preemptible: false,
                  measurementDuration: String(a.measurementDurationSeconds),
                  warmupDuration: String(a.warmupDurationSeconds),
                  stabilizationDuration: String(a.stabilizationDurationSeconds),
                  cpuUtilizationTarget: String(a.cpuUtilizationTarget),
                  decommissionTimeout: String(a.decommissionTimeoutSeconds),
                },
              }
            : {}),
        })),
      },
      dependsOn: [...this.grants],
    });
    this.clusterId = this.cluster.id;
  }
}
