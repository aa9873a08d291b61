import "cdktf/lib/testing/adapters/jest";
import * as fs from "fs";
import * as path from "path";
import { FLEET, lockPins, normalizePackageName } from "../../constructs/fleet-versions";
import { deployableConfig, JOBS_DIR, onlyName, onlyResource, ref, resourcesOf, synthStack, TerraformJson, withDataproc } from "./fixtures";

/** Folder roles held by the service account with the given logical name. */
function folderRolesOf(json: TerraformJson, saName: string): string[] {
  return Object.values(resourcesOf(json, "yandex_resourcemanager_folder_iam_member"))
    .filter((m: any) => m.member === `serviceAccount:${ref("yandex_iam_service_account", saName)}`)
    .map((m: any) => m.role)
    .sort();
}

function dataprocSaName(json: TerraformJson): string {
  const cluster = onlyResource(json, "yandex_dataproc_cluster");
  const m = /^\$\{yandex_iam_service_account\.([^.]+)\.id\}$/.exec(cluster.service_account_id);
  if (!m) throw new Error(`cluster service_account_id is not a service account reference: ${cluster.service_account_id}`);
  return m[1];
}

// the stack's own cluster (lifecycle.test.ts covers what each lifecycle changes)
describe("DataprocCluster", () => {
  const { json } = synthStack(withDataproc({ lifecycle: "always-on" }));
  const cluster = onlyResource(json, "yandex_dataproc_cluster");
  const saName = dataprocSaName(json);

  it("gives its service account exactly dataproc.agent and, for autoscaling, dataproc.provisioner", () => {
    expect(folderRolesOf(json, saName)).toEqual(["dataproc.agent", "dataproc.provisioner"]);
  });

  it("does not grant dataproc.provisioner when there is no autoscaling subcluster", () => {
    const fixed = synthStack(withDataproc({ lifecycle: "always-on", computeMaxHostsCount: 0 })).json;
    expect(folderRolesOf(fixed, dataprocSaName(fixed))).toEqual(["dataproc.agent"]);
    const roles = (onlyResource(fixed, "yandex_dataproc_cluster").cluster_config.subcluster_spec as any[]).map((s) => s.role);
    expect(roles).toEqual(["MASTERNODE", "DATANODE"]);
  });

  it("reaches the bucket through a bucket-scoped binding, not a folder-wide storage role", () => {
    const binding = onlyResource(json, "yandex_storage_bucket_iam_binding");
    expect(binding.role).toBe("storage.editor");
    expect(binding.members).toContain(`serviceAccount:${ref("yandex_iam_service_account", saName)}`);
    expect(cluster.bucket).toBe(ref("yandex_storage_bucket", onlyName(json, "yandex_storage_bucket"), "bucket"));
    const folderStorage = Object.values(resourcesOf(json, "yandex_resourcemanager_folder_iam_member")).filter((m: any) =>
      String(m.role).startsWith("storage."),
    );
    expect(folderStorage).toEqual([]);
  });

  it("runs HDFS, YARN and Spark on the fleet's Data Proc image with the UI proxy on", () => {
    expect(cluster.cluster_config.version_id).toBe(FLEET.dataproc.imageVersion);
    expect([...cluster.cluster_config.hadoop.services].sort()).toEqual(["HDFS", "SPARK", "YARN"]);
    expect(cluster.ui_proxy).toBe(true);
  });

  it("has a master, data nodes and an autoscaling compute subcluster, none with a public address", () => {
    const subs = cluster.cluster_config.subcluster_spec as any[];
    expect(subs.map((s) => s.role)).toEqual(["MASTERNODE", "DATANODE", "COMPUTENODE"]);
    expect(subs[2].autoscaling_config.max_hosts_count).toBe(2);
    for (const s of subs) expect(s.assign_public_ip).toBe(false);
  });

  it("installs the jobs' cluster packages at the versions the jobs are tested with, and the admin's SSH key, on every node", () => {
    const jobsPins = lockPins(fs.readFileSync(path.join(JOBS_DIR, "requirements.lock"), "utf8"));
    const wanted = fs.readFileSync(path.join(JOBS_DIR, "requirements-cluster.txt"), "utf8")
      .split("\n").map((l) => l.replace(/#.*/, "").trim()).filter((l) => l !== "");
    const pip = Object.entries<string>(cluster.cluster_config.hadoop.properties).filter(([k]) => k.startsWith("pip:"));
    expect(pip.map(([k]) => k.slice("pip:".length)).sort()).toEqual([...wanted].sort());
    for (const [key, version] of pip) expect([key, version]).toEqual([key, jobsPins.get(normalizePackageName(key.slice(4)))]);
    // mlflow 3 requires mlflow-skinny of its own version: the client on the cluster is the jobs' and the VM's
    expect(cluster.cluster_config.hadoop.properties["pip:mlflow-skinny"]).toBe(FLEET.pins.mlflow);
    expect(cluster.cluster_config.hadoop.ssh_public_keys).toEqual([deployableConfig().sshPublicKey]);
  });

  it("waits for its IAM roles before the cluster is created", () => {
    const members = resourcesOf(json, "yandex_resourcemanager_folder_iam_member");
    const grants = Object.keys(members)
      .filter((n) => members[n].member === `serviceAccount:${ref("yandex_iam_service_account", saName)}`)
      .map((n) => `yandex_resourcemanager_folder_iam_member.${n}`);
    expect(grants).toHaveLength(2);
    expect(cluster.depends_on).toEqual(expect.arrayContaining(grants));
  });
});
