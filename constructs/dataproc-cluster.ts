import { Construct } from "constructs";
import { DataprocCluster as DataprocClusterResource, DataprocClusterClusterConfigSubclusterSpec } from "../.gen/providers/yandex/dataproc-cluster";
import { IamServiceAccount } from "../.gen/providers/yandex/iam-service-account";
import { ResourcemanagerFolderIamMember } from "../.gen/providers/yandex/resourcemanager-folder-iam-member";

/** Runs the cluster: host state, jobs, log groups. */
export const DATAPROC_AGENT_ROLE = "dataproc.agent";
/** Lets Data Proc create and remove the instance group of an autoscaling subcluster. */
export const DATAPROC_PROVISIONER_ROLE = "dataproc.provisioner";

/** Components the pipeline uses: HDFS for its data, YARN to schedule Spark, Spark itself. */
export const DATAPROC_SERVICES = ["HDFS", "YARN", "SPARK"] as const;

export interface DataprocClusterProps {
  readonly namePrefix: string;
  readonly folderId: string;
  readonly zone: string;
  readonly subnetId: string;
  /** The stack's shared security group (it must carry the `self` rule). */
  readonly securityGroupId: string;
  /** Bucket for job logs and output; the cluster's account is given write access by the caller. */
  readonly bucketName: string;
  /** OpenSSH public key(s) for the nodes' `ubuntu` user. */
  readonly sshPublicKeys: readonly string[];
  /**
   * Image version: 2.2.9 has Python 3.11.10 and Spark 3.5.6 (the tests run Python 3.11 and Spark 3.5);
   * a prefix such as "2.2" picks the newest 2.2.x.
   *
   * @default "2.2.9"
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
   * Upper bound of the autoscaling compute subcluster; 0 creates no compute subcluster (and does not
   * grant `dataproc.provisioner`).
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
   * Labels put on the cluster and its service account.
   *
   * @default - no labels
   */
  readonly labels?: Record<string, string>;
}

/**
 * The Data Proc cluster (HDFS, YARN, Spark) that runs the pipeline's PySpark jobs, with its own
 * service account holding exactly the roles Data Proc needs: `dataproc.agent`, plus
 * `dataproc.provisioner` only when the autoscaling compute subcluster exists. Bucket access is
 * granted on the bucket itself by the caller (`ArtifactStorage.grantReadWrite`).
 */
export class DataprocCluster extends Construct {
  /** @attribute */
  public readonly clusterId: string;
  /** The cluster's service account. @attribute */
  public readonly serviceAccountId: string;
  /** Folder roles given to the service account. */
  public readonly folderRoles: readonly string[];
  public readonly cluster: DataprocClusterResource;

  constructor(scope: Construct, id: string, props: DataprocClusterProps) {
    super(scope, id);
    const labels = props.labels;
    const computeMax = props.computeMaxHostsCount ?? 0;
    const dataHosts = props.dataHostsCount ?? 1;
    if (dataHosts < 1) throw new Error(`dataproc: dataHostsCount ${dataHosts} must be at least 1 (HDFS needs a data node)`);
    if (props.sshPublicKeys.length === 0) throw new Error("dataproc: at least one SSH public key is required");

    const sa = new IamServiceAccount(this, "ServiceAccount", {
      name: `${props.namePrefix}-dataproc`,
      folderId: props.folderId,
      description: "Data Proc cluster nodes: agent, autoscaling, the pipeline bucket",
      labels,
    });
    this.serviceAccountId = sa.id;

    this.folderRoles = computeMax > 0 ? [DATAPROC_AGENT_ROLE, DATAPROC_PROVISIONER_ROLE] : [DATAPROC_AGENT_ROLE];
    const grants = this.folderRoles.map(
      (role) =>
        new ResourcemanagerFolderIamMember(this, `Role-${role}`, {
          folderId: props.folderId,
          role,
          member: `serviceAccount:${sa.id}`,
          // IAM changes take a while to propagate; without the pause cluster creation can fail.
          sleepAfter: 30,
        }),
    );

    const diskType = props.diskType ?? "network-ssd";
    // every subcluster sits in the one subnet, without public addresses (reached via the UI proxy).
    const subcluster = (name: string, role: string, hostsCount: number, resourcePresetId: string,
      diskSize: number): DataprocClusterClusterConfigSubclusterSpec => ({
      name, role, hostsCount, subnetId: props.subnetId, assignPublicIp: false,
      resources: { resourcePresetId, diskSize, diskTypeId: diskType },
    });
    const subclusters: DataprocClusterClusterConfigSubclusterSpec[] = [
      subcluster("master", "MASTERNODE", 1, props.masterResourcePreset ?? "s3-c2-m8", props.masterDiskSizeGb ?? 40),
      subcluster("data", "DATANODE", dataHosts, props.dataResourcePreset ?? "s3-c4-m16", props.dataDiskSizeGb ?? 128),
    ];
    if (computeMax > 0) {
      subclusters.push({
        ...subcluster("compute", "COMPUTENODE", 1, props.computeResourcePreset ?? "s3-c4-m16", props.computeDiskSizeGb ?? 64),
        // durations are strings of whole seconds in the provider's schema.
        autoscalingConfig: {
          maxHostsCount: computeMax,
          preemptible: false,
          measurementDuration: "60",
          warmupDuration: "60",
          stabilizationDuration: "120",
          cpuUtilizationTarget: "75",
          decommissionTimeout: "120",
        },
      });
    }

    const properties: Record<string, string> = {
      ...Object.fromEntries((props.pipPackages ?? []).map((spec) => {
        const [name, version] = spec.split("==");
        return [`pip:${name}`, version];
      })),
      ...(props.properties ?? {}),
    };

    this.cluster = new DataprocClusterResource(this, "Resource", {
      name: `${props.namePrefix}-spark`,
      folderId: props.folderId,
      description: "Spark for the fraud-model pipeline",
      zoneId: props.zone,
      serviceAccountId: sa.id,
      bucket: props.bucketName,
      securityGroupIds: [props.securityGroupId],
      uiProxy: props.uiProxy ?? true,
      deletionProtection: props.deletionProtection ?? false,
      labels,
      clusterConfig: {
        versionId: props.imageVersion ?? "2.2.9",
        hadoop: {
          services: [...DATAPROC_SERVICES],
          properties,
          sshPublicKeys: [...props.sshPublicKeys],
        },
        subclusterSpec: subclusters,
      },
      dependsOn: grants,
    });
    this.clusterId = this.cluster.id;
  }
}
