import { Construct } from "constructs";
import { TerraformResource } from "cdktf";
import { DataprocClusterIamBinding } from "../.gen/providers/yandex/dataproc-cluster-iam-binding";
import { IamServiceAccountIamBinding } from "../.gen/providers/yandex/iam-service-account-iam-binding";
import { ResourcemanagerFolderIamMember } from "../.gen/providers/yandex/resourcemanager-folder-iam-member";
import { DataprocLifecycle } from "./dataproc-spec";

/** Where each role is granted: on the stack's cluster, on the folder, on the cluster's service account. */
export interface DataprocAccessRoles {
  readonly cluster: readonly string[];
  readonly folder: readonly string[];
  readonly clusterServiceAccount: readonly string[];
}

/**
 * The narrowest roles the Airflow VM's service account needs on Data Proc for each lifecycle (Yandex
 * Cloud docs: roles reference `_roles/dataproc/*.md`, data-proc/operations/cluster-create.md "Roles
 * for creating a cluster"):
 * - always-on: `dataproc.user` ("create jobs") on the one cluster;
 * - stop-between-runs: `dataproc.editor` ("create, edit and delete clusters and jobs"; Start and Stop
 *   change the cluster, which `dataproc.user` does not allow) on the one cluster;
 * - per-run: there is no cluster to bind to, so on the folder `dataproc.editor` (create and delete
 *   clusters, jobs) and `vpc.user` (use the subnet and security group: the provider has no
 *   subnet-level IAM resource), and `iam.serviceAccounts.user` on the cluster's service account
 *   only (attach it to the clusters it creates), as the cluster-create page lists.
 */
export const AIRFLOW_DATAPROC_ROLES: Readonly<Record<DataprocLifecycle, DataprocAccessRoles>> = {
  "always-on": { cluster: ["dataproc.user"], folder: [], clusterServiceAccount: [] },
  "stop-between-runs": { cluster: ["dataproc.editor"], folder: [], clusterServiceAccount: [] },
  "per-run": { cluster: [], folder: ["dataproc.editor", "vpc.user"], clusterServiceAccount: ["iam.serviceAccounts.user"] },
};

export interface DataprocAccessProps {
  readonly lifecycle: DataprocLifecycle;
  readonly folderId: string;
  /** Who gets the roles: the Airflow VM's service account. */
  readonly serviceAccountId: string;
  /** The stack's cluster (always-on, stop-between-runs). @default - none (per-run) */
  readonly clusterId?: string;
  /** The service account the clusters run as (per-run: the DAG attaches it to the clusters it creates). */
  readonly clusterServiceAccountId: string;
}

/**
 * What the Airflow VM may do on Data Proc, for the cluster lifecycle: exactly the roles of
 * `AIRFLOW_DATAPROC_ROLES`, each on the narrowest resource that has access bindings. Cluster and
 * service-account bindings are authoritative for their role on that one resource (the stack owns it).
 */
export class DataprocAccess extends Construct {
  /** Every grant: a VM must not boot (and run the DAG) before them. */
  public readonly grants: readonly TerraformResource[];

  constructor(scope: Construct, id: string, props: DataprocAccessProps) {
    super(scope, id);
    const roles = AIRFLOW_DATAPROC_ROLES[props.lifecycle];
    const member = `serviceAccount:${props.serviceAccountId}`;
    if (roles.cluster.length > 0 && !props.clusterId) {
      throw new Error(`dataproc access: lifecycle ${props.lifecycle} grants roles on the stack's cluster, but there is none`);
    }
    const grants: TerraformResource[] = [];
    for (const role of roles.cluster) {
      grants.push(new DataprocClusterIamBinding(this, `Cluster-${role}`, { clusterId: props.clusterId!, role, members: [member] }));
    }
    for (const role of roles.folder) {
      grants.push(new ResourcemanagerFolderIamMember(this, `Folder-${role}`, { folderId: props.folderId, role, member }));
    }
    for (const role of roles.clusterServiceAccount) {
      grants.push(new IamServiceAccountIamBinding(this, `ClusterAccount-${role}`, {
        serviceAccountId: props.clusterServiceAccountId,
        role,
        members: [member],
      }));
    }
    this.grants = grants;
  }
}
