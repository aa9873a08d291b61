import { TerraformStack, TerraformVariable, Testing } from "cdktf";
import { AirflowHost } from "../../constructs/airflow-host";
import { EXAMPLE_MLFLOW, exampleAirflow } from "../../constructs/host-examples";
import { HostInstanceProps } from "../../constructs/host-instance";
import { MlflowServer } from "../../constructs/mlflow-server";
import { escapeTerraformTemplate } from "../../cloud-init/terraform-escape";
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
    // Terraform would read ${HOME}-like shell text as its own expressions: every one is escaped
    expect(userData).not.toMatch(/(^|[^$])\$\{/);
    expect(userData).toContain("$${!name}");
    expect(Object.keys(instances[0].metadata)).toEqual(["user-data"]);
  });

  it("joins the shared security group, runs as its service account, boots Ubuntu 24.04 LTS", () => {
    const { json, instances } = synthInstances((s) => {
      new MlflowServer(s, "Mlflow", { ...PLACE, ...EXAMPLE_MLFLOW, name: "mlops-mlflow" });
    });
    expect(instances[0].network_interface[0].security_group_ids).toEqual(["enpplaceholdersg"]);
    expect(instances[0].service_account_id).toBe("ajeplaceholdersa");
    const images = Object.values(json.data.yandex_compute_image) as { family: string }[];
    expect(images.map((i) => i.family)).toEqual(["ubuntu-2404-lts"]);
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
    ).toThrow(/bad cores \(at least 2\) 1/);
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
