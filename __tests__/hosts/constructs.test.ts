import { TerraformStack, TerraformVariable, Testing } from "cdktf";
import { AirflowHost } from "../../constructs/airflow-host";
import { EXAMPLE_MLFLOW, exampleAirflow } from "../fixtures/host-examples";
import { HostInstanceProps } from "../../constructs/host-instance";
import { MlflowServer } from "../../constructs/mlflow-server";
import { escapeTerraformTemplate } from "../../cloud-init/terraform-escape";
import { FLEET } from "../../constructs/fleet-versions";
import { userDataOf } from "../stack/fixtures";

const PLACE: Omit<HostInstanceProps, "name"> = {
  folderId: "b1gplaceholderfolder",
  zone: "ru-central1-a",
  subnetId: "e9bplaceholdersubnet",
  securityGroupIds: ["enpplaceholdersg"],
  serviceAccountId: "ajeplaceholdersa",
};

type Instance = {
  metadata: Record<string, string>;
  network_interface: { nat: boolean; security_group_ids: string[] }[];
  service_account_id: string;
  boot_disk: { initialize_params: { image_id: string } };
  lifecycle?: { ignore_changes?: string[] };
  scheduling_policy?: { preemptible: boolean };
};

function synthInstances(build: (stack: TerraformStack) => void): { json: any; instances: Instance[]; userData: string[] } {
  const stack = new TerraformStack(Testing.app(), "hosts");
  build(stack);
  const json = JSON.parse(Testing.synth(stack));
  const instances = Object.values(json.resource.yandex_compute_instance ?? {}) as Instance[];
  return { json, instances, userData: instances.map((i) => userDataOf(json, i)) };
}

describe("MlflowServer", () => {
  it("puts the rendered user-data, escaped for Terraform, in the instance metadata", () => {
    const { instances, userData: [userData] } = synthInstances((s) => {
      new MlflowServer(s, "Mlflow", { ...PLACE, ...EXAMPLE_MLFLOW, name: "mlops-mlflow" });
    });
    expect(instances).toHaveLength(1);
    expect(userData.startsWith("#cloud-config\n")).toBe(true);
    // Terraform would read ${VAR}-like unit text as its own expressions: every one is escaped
    expect(userData).not.toMatch(/(^|[^$])\$\{/);
    expect(userData).toContain("--allowed-hosts $${MLFLOW_ALLOWED_HOSTS}");
    expect(Object.keys(instances[0].metadata)).toEqual(["user-data"]);
  });

  it("joins the shared security group, runs as its service account, boots the release the boot test boots", () => {
    const { json, instances } = synthInstances((s) => {
      new MlflowServer(s, "Mlflow", { ...PLACE, ...EXAMPLE_MLFLOW, name: "mlops-mlflow" });
    });
    expect(instances[0].network_interface[0].security_group_ids).toEqual(["enpplaceholdersg"]);
    expect(instances[0].service_account_id).toBe("ajeplaceholdersa");
    const images = Object.values(json.data.yandex_compute_image) as { family: string; folder_id: string }[];
    expect(images.map((i) => [i.family, i.folder_id])).toEqual([[FLEET.vm.imageFamily, "standard-images"]]);
    // a newer image in the family must not replace a running VM
    expect(instances[0].lifecycle?.ignore_changes).toContain("boot_disk[0].initialize_params[0].image_id");
    expect(instances[0].scheduling_policy).toBeUndefined();
  });

  it("is preemptible only when asked", () => {
    const { instances } = synthInstances((s) => {
      new MlflowServer(s, "Mlflow", { ...PLACE, ...EXAMPLE_MLFLOW, name: "mlops-mlflow", preemptible: true });
    });
    expect(instances[0].scheduling_policy).toEqual({ preemptible: true });
  });

  it("resolves stack references inside the user-data (a bucket name from a variable)", () => {
    const { userData } = synthInstances((s) => {
      const bucket = new TerraformVariable(s, "bucket", { type: "string" });
      new MlflowServer(s, "Mlflow", { ...PLACE, ...EXAMPLE_MLFLOW, name: "mlops-mlflow", bucket: bucket.stringValue });
    });
    expect(userData[0]).toContain("MLFLOW_ARTIFACTS_DESTINATION=s3://${var.bucket}/mlflow");
  });

  it("refuses a too-small VM, naming the value", () => {
    expect(() =>
      synthInstances((s) => {
        new MlflowServer(s, "Mlflow", { ...PLACE, ...EXAMPLE_MLFLOW, name: "mlops-mlflow", cores: 1 });
      }),
    ).toThrow("mlops-mlflow: cores = 1: must be a whole number from 2 to 96");
  });
});

describe("AirflowHost", () => {
  it("renders the same user-data as renderAirflowHost, escaped for Terraform", () => {
    const host = { ...exampleAirflow() };
    let rendered = "";
    const { userData } = synthInstances((s) => {
      const a = new AirflowHost(s, "Airflow", { ...PLACE, ...host, name: "mlops-airflow" });
      rendered = a.rendered.userData;
    });
    expect(userData[0]).toBe(escapeTerraformTemplate(rendered));
    expect(rendered).toContain("path: /opt/airflow/dags/fraud_pipeline.py");
  });
});
