import "cdktf/lib/testing/adapters/jest";
import { DEFAULT_ADMIN_USER } from "../../constructs/ssh-key";
import { deployableConfig, lockboxSecretsByRef, onlyName, resourcesOf, synthStack, userDataOf } from "./fixtures";

/**
 * The synthesized stack minus what legitimately changes with other parts of the repo: asset hashes
 * and the release folder (job code), the VMs' user-data (it embeds the DAG and pipeline_spec.py; the
 * host tests snapshot it) and the versions of the cluster's pip packages (`make upgrade` moves them;
 * the Data Proc tests compare them with the jobs' lock). So this snapshot changes only when the
 * infrastructure does.
 */
function stableText(text: string): string {
  const json = JSON.parse(text);
  for (const vm of Object.values<any>(json.resource.yandex_compute_instance ?? {})) {
    const local = /^\$\{local\.(.+)\}$/.exec(vm.metadata["user-data"])![1];
    json.locals[local] = "<user-data: see the __tests__/hosts snapshots>";
  }
  for (const cluster of Object.values<any>(json.resource.yandex_dataproc_cluster ?? {})) {
    const props = cluster.cluster_config.hadoop.properties;
    for (const key of Object.keys(props).filter((k) => k.startsWith("pip:"))) props[key] = "<jobs/requirements.lock>";
  }
  return JSON.stringify(json, null, 2)
    .replace(/assets\/([^/"]+)\/[0-9A-Fa-f]{16,}\//g, "assets/$1/<hash>/")
    .replace(/"source_hash": "[0-9A-Fa-f]{16,}"/g, '"source_hash": "<hash>"')
    // the job code's release folder is the hash of the code
    .replace(/\bjobs\/[0-9a-f]{16}\//g, "jobs/<release>/");
}

describe("MlopsStack", () => {
  const { json, text } = synthStack();

  it("matches the reviewed snapshot of the whole synthesized stack", () => {
    expect(stableText(text)).toMatchSnapshot();
  });

  it.each([
    "yandex_vpc_network",
    "yandex_vpc_subnet",
    "yandex_vpc_gateway",
    "yandex_vpc_route_table",
    "yandex_vpc_security_group",
    "yandex_iam_service_account",
    "yandex_resourcemanager_folder_iam_member",
    "yandex_storage_bucket",
    "yandex_mdb_postgresql_cluster",
    "yandex_mdb_postgresql_database",
    "yandex_mdb_postgresql_user",
    "yandex_dataproc_cluster",
    "yandex_lockbox_secret",
    "yandex_storage_object",
  ])("creates %s", (type) => {
    expect(Object.keys(resourcesOf(json, type)).length).toBeGreaterThan(0);
  });

  it("creates two VMs, each configured by cloud-init user-data", () => {
    const vms = Object.values(resourcesOf(json, "yandex_compute_instance"));
    expect(vms).toHaveLength(2);
    for (const vm of vms) expect(userDataOf(json, vm)).toMatch(/^#cloud-config\n/);
  });

  it("hands each VM the Lockbox ids of exactly the secrets it may read, and Airflow the cluster id", () => {
    const vms = resourcesOf(json, "yandex_compute_instance");
    const userData = (name: string) => userDataOf(json, Object.values<any>(vms).find((v) => v.name === name)!);
    const secretRefs = [...lockboxSecretsByRef(json)].map(([ref, name]) => ({ name, ref }));
    const referenced = (text: string) => secretRefs.filter((s) => text.includes(s.ref)).map((s) => s.name).sort();
    expect(referenced(userData("fraud-mlflow"))).toEqual(["fraud-mlflow-admin", "fraud-mlflow-jobs", "fraud-s3-key", "mlflow-pg (Connection Manager)"]);
    expect(referenced(userData("fraud-airflow"))).toEqual([
      "fraud-airflow-admin",
      "fraud-airflow-api-secret-key",
      "fraud-airflow-fernet-seed",
      "fraud-airflow-jwt-secret",
      "fraud-mlflow-jobs",
      "airflow-pg (Connection Manager)",
    ].sort());
    // the one id Airflow does not read itself: the jobs' MLflow password, passed only in the
    // pipeline config for the Data Proc jobs (the cluster's account reads it on the driver)
    const jobsRef = secretRefs.find((s) => s.name === "fraud-mlflow-jobs")!.ref;
    const airflowUserData = userData("fraud-airflow");
    expect(airflowUserData.split(jobsRef).length - 1).toBeGreaterThan(0);
    expect(airflowUserData.split(`"mlflow_password_secret_id": "${jobsRef}"`).length).toBe(airflowUserData.split(jobsRef).length);
    // ... with the user it belongs to and the certificate the MLflow VM publishes to the bucket
    expect(airflowUserData).toContain(`"mlflow_username": "jobs"`);
    expect(airflowUserData).toMatch(/"mlflow_ca_uri": "s3a:\/\/[^"/]+\/tls\/mlflow-server\.crt"/);
    expect(userData("fraud-airflow")).toContain(`\${yandex_dataproc_cluster.${onlyName(json, "yandex_dataproc_cluster")}.id}`);
  });

  it("configures the provider from the config, with no credentials in it", () => {
    const provider = (json.provider as any).yandex[0];
    expect(provider).toEqual({ cloud_id: "b1gcloud000000000000", folder_id: "b1gfolder00000000000", zone: "ru-central1-a" });
    expect((json.terraform as any).required_providers.yandex).toEqual({ source: "yandex-cloud/yandex", version: "0.222.0" });
  });

  it("outputs the MLflow and Airflow URLs, the bucket, the cluster id and the secrets map", () => {
    expect(Object.keys(json.output ?? {})).toEqual(
      expect.arrayContaining(["mlflow_url", "airflow_url", "bucket", "dataproc_cluster_id", "lockbox_secrets"]),
    );
  });

  it("outputs what make check-deploy reads: the web endpoints, their users, the Lockbox entries of the passwords, the certificates' places", () => {
    const outputs = json.output as any;
    const secrets = Object.values(outputs.lockbox_secrets.value as Record<string, any>);
    const admin = (host: string) => secrets.find((s) => s.secret_name.endsWith(`-${host}-admin`));
    expect(outputs.check_deploy.value).toEqual({
      mlflow: {
        url: outputs.mlflow_url.value,
        user: "admin",
        password_secret_id: admin("mlflow").secret_id,
        password_key: admin("mlflow").key,
        certificate_bucket: outputs.bucket.value,
        certificate_key: "tls/mlflow-server.crt",
        storage_endpoint: outputs.s3_endpoint.value,
      },
      airflow: {
        url: outputs.airflow_url.value,
        user: "admin",
        password_secret_id: admin("airflow").secret_id,
        password_key: admin("airflow").key,
        // the config sets no sshUser: the hosts' default login
        ssh_user: DEFAULT_ADMIN_USER,
        certificate_path: "/etc/yc-mlops/tls/server.crt",
      },
    });
    expect(admin("mlflow").secret_id).not.toEqual(admin("airflow").secret_id);
  });

  it("lets a filled-in config plan: the refusal precondition holds (no placeholders)", () => {
    expect((json as any).locals.config_placeholders).toEqual([]);
  });

  it("refuses to plan while placeholders remain, naming them", () => {
    const cfg = { ...deployableConfig(), placeholders: ["folderId", "sshPublicKey"] };
    const placeholderJson = synthStack(cfg).json as any;
    expect(placeholderJson.locals.config_placeholders).toEqual(["folderId", "sshPublicKey"]);
    const vpc = resourcesOf(placeholderJson, "yandex_vpc_network")[onlyName(placeholderJson, "yandex_vpc_network")];
    expect(vpc.lifecycle.precondition).toEqual([
      {
        condition: "${(length(local.config_placeholders) < 1)}",
        error_message: expect.stringMatching(/Refusing to deploy: test-config\.json still has placeholder values \(folderId, sshPublicKey\)/),
      },
    ]);
  });
});
