import "cdktf/lib/testing/adapters/jest";
import { parse } from "yaml";
import { DataprocLifecycle } from "../../constructs/config";
import { clusterPipPackages, FLEET } from "../../constructs/fleet-versions";
import { PIPELINE_DEFAULTS } from "../../constructs/pipeline-config";
import { pipelineConfigProblems } from "../../constructs/pipeline-contract";
import { loadInPython } from "../hosts/python-config";
import { deployableConfig, JOBS_DIR, onlyName, onlyResource, ref, resourcesOf, synthStack, TerraformJson, userDataOf, withDataproc } from "./fixtures";

const withLifecycle = (lifecycle: DataprocLifecycle) => withDataproc({ lifecycle });

/** Every IAM grant held by the service account named `saName`, as "where:role". */
function grantsOf(json: TerraformJson, saName: string): string[] {
  const member = `serviceAccount:${ref("yandex_iam_service_account", saName)}`;
  const out: string[] = [];
  for (const m of Object.values<any>(resourcesOf(json, "yandex_resourcemanager_folder_iam_member"))) {
    if (m.member === member) out.push(`folder:${m.role}`);
  }
  for (const b of Object.values<any>(resourcesOf(json, "yandex_dataproc_cluster_iam_binding"))) {
    if (b.members.includes(member)) out.push(`cluster ${b.cluster_id}:${b.role}`);
  }
  for (const b of Object.values<any>(resourcesOf(json, "yandex_iam_service_account_iam_binding"))) {
    if (b.members.includes(member)) out.push(`service account ${b.service_account_id}:${b.role}`);
  }
  for (const b of Object.values<any>(resourcesOf(json, "yandex_storage_bucket_iam_binding"))) {
    if (b.members.includes(member)) out.push(`bucket:${b.role}`);
  }
  return out.sort();
}

function saNamed(json: TerraformJson, name: string): string {
  const found = Object.entries<any>(resourcesOf(json, "yandex_iam_service_account")).filter(([, sa]) => sa.name === name);
  if (found.length !== 1) throw new Error(`expected one service account ${name}, found ${found.length}`);
  return found[0][0];
}

/** The pipeline config the Airflow VM's user-data writes. */
function airflowPipelineConfig(json: TerraformJson): any {
  const vm = Object.values<any>(resourcesOf(json, "yandex_compute_instance")).find((v) => v.name === "fraud-airflow");
  const cloudConfig = parse(userDataOf(json, vm));
  const file = cloudConfig.write_files.find((f: any) => f.path === "/etc/yc-mlops/pipeline.json");
  return JSON.parse(file.content);
}

describe.each(["always-on", "stop-between-runs", "per-run"] as const)("dataproc.lifecycle %s", (lifecycle) => {
  const { json } = synthStack(withLifecycle(lifecycle));
  const airflow = saNamed(json, "fraud-airflow-vm");
  const dataprocSa = saNamed(json, "fraud-dataproc");
  const config = airflowPipelineConfig(json);

  it("tells the DAG the lifecycle, with the data where it survives the cluster", () => {
    expect(config.cluster_lifecycle).toBe(lifecycle);
    if (lifecycle === "per-run") {
      expect(config.data_root).toBe(`s3a://${ref("yandex_storage_bucket", onlyName(json, "yandex_storage_bucket"), "bucket")}/lake`);
      expect(config.raw_root).toBe("hdfs:///user/fraud");
    } else {
      expect(config.data_root).toBe("hdfs:///user/fraud");
      expect(config.raw_root).toBeUndefined();
    }
  });

  it("writes a config the jobs' schema accepts and the jobs' PipelineConfig loads (the one contract)", () => {
    expect(pipelineConfigProblems(config)).toEqual([]);
    expect(loadInPython([config])).toEqual([{ ok: true, schedule: PIPELINE_DEFAULTS.schedule }]);
  });

  it("keeps the cluster's own service account and its roles in every mode", () => {
    expect(grantsOf(json, dataprocSa)).toEqual(["bucket:storage.editor", "folder:dataproc.agent", "folder:dataproc.provisioner"]);
  });

  if (lifecycle === "per-run") {
    it("creates no cluster and no cluster id output", () => {
      expect(resourcesOf(json, "yandex_dataproc_cluster")).toEqual({});
      expect(resourcesOf(json, "yandex_dataproc_cluster_iam_binding")).toEqual({});
      expect(Object.keys(json.output ?? {})).not.toContain("dataproc_cluster_id");
      expect(config.dataproc_cluster_id).toBeUndefined();
    });

    it("lets Airflow create and delete clusters in the folder, attaching only the cluster's account", () => {
      expect(grantsOf(json, airflow)).toEqual([
        "folder:dataproc.editor",
        "folder:vpc.user",
        `service account ${ref("yandex_iam_service_account", dataprocSa)}:iam.serviceAccounts.user`,
      ]);
      // authoritative for that role on that one account: nobody else may attach it
      const binding = onlyResource(json, "yandex_iam_service_account_iam_binding");
      expect(binding.members).toEqual([`serviceAccount:${ref("yandex_iam_service_account", airflow)}`]);
    });

    it("hands the DAG the cluster the stack would have made: its network, account, bucket, image and presets", () => {
      const c = config.dataproc_cluster;
      expect(c.subnet_id).toBe(ref("yandex_vpc_subnet", onlyName(json, "yandex_vpc_subnet")));
      // the cluster's own group (Network: the cluster, whose code may be anyone's, is kept apart)
      const groups = Object.entries<any>(resourcesOf(json, "yandex_vpc_security_group")).filter(([, g]) => g.name === "fraud-dataproc");
      expect(groups).toHaveLength(1);
      expect(c.security_group_ids).toEqual([ref("yandex_vpc_security_group", groups[0][0])]);
      expect(c.service_account_id).toBe(ref("yandex_iam_service_account", dataprocSa));
      expect(c.bucket).toBe(ref("yandex_storage_bucket", onlyName(json, "yandex_storage_bucket"), "bucket"));
      expect(c).toEqual(expect.objectContaining({
        name_prefix: "fraud-run",
        folder_id: "b1gfolder00000000000",
        zone: "ru-central1-a",
        image_version: FLEET.dataproc.imageVersion,
        services: ["HDFS", "YARN", "SPARK"],
        // the jobs' lock, as the stack's own cluster gets it
        properties: Object.fromEntries(clusterPipPackages(JOBS_DIR).map((p) => [`pip:${p.split("==")[0]}`, p.split("==")[1]])),
        ssh_public_keys: [deployableConfig().sshPublicKey],
        ui_proxy: true,
        labels: { project: "fraud", "managed-by": "airflow" },
        master: { resource_preset: "s3-c2-m8", disk_size_gb: 40, disk_type: "network-ssd" },
        data: { resource_preset: "s3-c4-m16", disk_size_gb: 128, disk_type: "network-ssd", hosts_count: 1 },
        compute: { resource_preset: "s3-c4-m16", disk_size_gb: 64, disk_type: "network-ssd", hosts_count: 1, max_hosts_count: 2 },
      }));
    });

    it("boots Airflow (whose first run creates a cluster) only after the cluster's account can run one", () => {
      const vm = resourcesOf(json, "yandex_compute_instance")[
        Object.entries<any>(resourcesOf(json, "yandex_compute_instance")).find(([, v]) => v.name === "fraud-airflow")![0]
      ];
      const agentGrants = Object.entries<any>(resourcesOf(json, "yandex_resourcemanager_folder_iam_member"))
        .filter(([, m]) => m.member === `serviceAccount:${ref("yandex_iam_service_account", dataprocSa)}`)
        .map(([n]) => `yandex_resourcemanager_folder_iam_member.${n}`);
      expect(agentGrants).toHaveLength(2);
      expect(vm.depends_on).toEqual(expect.arrayContaining([
        ...agentGrants,
        `yandex_storage_bucket_iam_binding.${onlyName(json, "yandex_storage_bucket_iam_binding")}`,
        `yandex_iam_service_account_iam_binding.${onlyName(json, "yandex_iam_service_account_iam_binding")}`,
      ]));
    });
  } else {
    const role = lifecycle === "always-on" ? "dataproc.user" : "dataproc.editor";

    it(`creates the cluster and gives Airflow exactly ${role} on it, nothing on the folder`, () => {
      const clusterName = onlyName(json, "yandex_dataproc_cluster");
      expect(grantsOf(json, airflow)).toEqual([`cluster ${ref("yandex_dataproc_cluster", clusterName)}:${role}`]);
      const binding = onlyResource(json, "yandex_dataproc_cluster_iam_binding");
      expect(binding.members).toEqual([`serviceAccount:${ref("yandex_iam_service_account", airflow)}`]);
      expect(config.dataproc_cluster_id).toBe(ref("yandex_dataproc_cluster", clusterName));
      expect(config.dataproc_cluster).toBeUndefined();
      expect(json.output?.dataproc_cluster_id?.value).toBe(ref("yandex_dataproc_cluster", clusterName));
    });
  }
});

describe("a per-run cluster and the stack's cluster are the same cluster", () => {
  it("takes every setting from one spec", () => {
    const stackCluster = onlyResource(synthStack(withLifecycle("always-on")).json, "yandex_dataproc_cluster");
    const run = airflowPipelineConfig(synthStack(withLifecycle("per-run")).json).dataproc_cluster;
    const subs = stackCluster.cluster_config.subcluster_spec as any[];
    const asRun = (s: any) => ({ resource_preset: s.resources.resource_preset_id, disk_size_gb: s.resources.disk_size, disk_type: s.resources.disk_type_id });
    expect(asRun(subs[0])).toEqual(run.master);
    expect({ ...asRun(subs[1]), hosts_count: subs[1].hosts_count }).toEqual(run.data);
    expect({ ...asRun(subs[2]), hosts_count: subs[2].hosts_count, max_hosts_count: subs[2].autoscaling_config.max_hosts_count }).toEqual(run.compute);
    const a = subs[2].autoscaling_config;
    expect(run.autoscaling).toEqual({
      measurement_duration_seconds: Number(a.measurement_duration),
      warmup_duration_seconds: Number(a.warmup_duration),
      stabilization_duration_seconds: Number(a.stabilization_duration),
      cpu_utilization_target: Number(a.cpu_utilization_target),
      decommission_timeout_seconds: Number(a.decommission_timeout),
    });
    expect(stackCluster.cluster_config.version_id).toBe(run.image_version);
    expect(stackCluster.cluster_config.hadoop.properties).toEqual(run.properties);
    expect([...stackCluster.cluster_config.hadoop.services]).toEqual(run.services);
    expect(stackCluster.ui_proxy).toBe(run.ui_proxy);
    expect(stackCluster.zone_id).toBe(run.zone);
  });
});

/**
 * What a `cdktf deploy` does to a cluster the DAG left stopped (README, "Paying for the cluster"): in
 * terraform-provider-yandex v0.222.0 no attribute of yandex_dataproc_cluster reflects the cluster's
 * status and no code path calls Start or Stop, so the stack declares the cluster exactly as for
 * always-on. An ignore_changes here would hide nothing a stop flips, only config keys from the cluster.
 */
describe("a deploy and a stopped cluster (stop-between-runs)", () => {
  const stopping = synthStack(withLifecycle("stop-between-runs")).json;
  const alwaysOn = synthStack(withLifecycle("always-on")).json;

  it("declares the cluster as always-on does, with no ignore_changes, so every config key still reaches it", () => {
    const cluster = onlyResource(stopping, "yandex_dataproc_cluster");
    expect(cluster).toEqual(onlyResource(alwaysOn, "yandex_dataproc_cluster"));
    expect(cluster.lifecycle).toBeUndefined();
  });

  it("has nothing that could start the cluster at deploy time: no provisioner, no local-exec", () => {
    const text = JSON.stringify(stopping);
    expect(text).not.toMatch(/"provisioner"|local-exec|remote-exec/);
    expect(Object.keys(stopping.resource ?? {}).filter((t) => t.startsWith("yandex_dataproc"))).toEqual(
      ["yandex_dataproc_cluster", "yandex_dataproc_cluster_iam_binding"],
    );
  });
});

describe("dataproc.lifecycle in the config", () => {
  it("defaults to always-on (the stack's cluster, as before the key existed)", () => {
    const { stack, json } = synthStack(deployableConfig());
    expect(stack.dataproc.lifecycle).toBe("always-on");
    expect(Object.keys(resourcesOf(json, "yandex_dataproc_cluster"))).toHaveLength(1);
  });

  it("refuses an unknown lifecycle, naming it", () => {
    expect(() => withLifecycle("sometimes" as DataprocLifecycle)).toThrow(/dataproc\.lifecycle.*sometimes.*always-on, stop-between-runs, per-run/);
  });

  it("refuses deletion protection on a cluster each run deletes", () => {
    expect(() => withDataproc({ lifecycle: "per-run", deletionProtection: true })).toThrow(/dataproc\.deletionProtection/);
  });
});
