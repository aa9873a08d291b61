import "cdktf/lib/testing/adapters/jest";
import { onlyName, onlyResource, ref, resourcesOf, synthStack } from "./fixtures";

const { json, text } = synthStack();
const clusterName = onlyName(json, "yandex_mdb_postgresql_cluster");
const clusterRef = ref("yandex_mdb_postgresql_cluster", clusterName);

describe("MlflowBackend", () => {
  it("runs one private Managed PostgreSQL host in the shared subnet", () => {
    const cluster = onlyResource(json, "yandex_mdb_postgresql_cluster");
    expect(cluster.host).toEqual([
      expect.objectContaining({ zone: "ru-central1-a", subnet_id: ref("yandex_vpc_subnet", onlyName(json, "yandex_vpc_subnet")), assign_public_ip: false }),
    ]);
    expect(cluster.config.version).toBe("16");
  });

  it("holds both the mlflow and the airflow database, each owned by its own user", () => {
    const dbs = Object.values(resourcesOf(json, "yandex_mdb_postgresql_database"));
    const users = resourcesOf(json, "yandex_mdb_postgresql_user");
    expect(dbs.map((d: any) => d.name).sort()).toEqual(["airflow", "mlflow"]);
    for (const d of dbs) {
      expect(d.cluster_id).toBe(clusterRef);
      const [ownerName] = Object.entries(users).find(([, u]: [string, any]) => u.name === d.name)!;
      expect(d.owner).toBe(ref("yandex_mdb_postgresql_user", ownerName, "name"));
    }
  });

  it("lets Connection Manager generate each user's password: no value passes through Terraform", () => {
    for (const u of Object.values(resourcesOf(json, "yandex_mdb_postgresql_user"))) {
      expect(u.generate_password).toBe(true);
      expect(u.password).toBeUndefined();
      expect(u.password_wo).toBeUndefined();
    }
    expect(onlyResource(json, "yandex_mdb_postgresql_cluster").config.connection_manager).toEqual({ enabled: true });
    expect(text).not.toMatch(/"password":/);
  });
});
