import "cdktf/lib/testing/adapters/jest";
import { VpcSubnet } from "../../.gen/providers/yandex/vpc-subnet";
import { parseCidr } from "../../constructs/config";
import { ANY_IPV4, METADATA_SERVICE } from "../../constructs/network";
import { deployableConfig, onlyName, onlyResource, ref, resourcesOf, synthStack, TerraformJson } from "./fixtures";

interface Rule {
  protocol: string;
  port?: number;
  from_port?: number;
  to_port?: number;
  v4_cidr_blocks?: string[];
  predefined_target?: string;
  security_group_id?: string;
}

/** An endpoint of a connection: its address, its groups (by Terraform reference), a public address or not. */
interface Endpoint {
  readonly name: string;
  readonly address: string;
  readonly groups: readonly string[];
  readonly publicIp: boolean;
}

function inCidr(address: string, cidr: string): boolean {
  const a = parseCidr(`${address}/32`)!.address;
  const c = parseCidr(cidr)!;
  const mask = c.prefix === 0 ? 0 : (0xffffffff << (32 - c.prefix)) >>> 0;
  return ((a & mask) >>> 0) === ((c.address & mask) >>> 0);
}

function ruleCovers(r: Rule, protocol: string, port: number, peer: Endpoint, own: readonly string[], selfGroup: string): boolean {
  if (r.protocol !== "ANY" && r.protocol !== protocol) return false;
  if (r.port !== undefined && r.port !== port) return false;
  if (r.from_port !== undefined && (port < r.from_port || port > (r.to_port ?? r.from_port))) return false;
  if (r.predefined_target === "self_security_group") return peer.groups.includes(selfGroup) && own.includes(selfGroup);
  if (r.security_group_id !== undefined) return peer.groups.includes(r.security_group_id);
  return (r.v4_cidr_blocks ?? []).some((c) => inCidr(peer.address, c));
}

/**
 * Whether the synthesized security groups let `from` open a connection to `to` on protocol/port:
 * an egress rule of one of `from`'s groups AND an ingress rule of one of `to`'s groups must allow it
 * (Yandex security groups are stateful and additive). Internet endpoints have no groups: only the
 * other side's rules count, and they reach only hosts with a public address.
 */
function allowed(json: TerraformJson, from: Endpoint, to: Endpoint, protocol: string, port: number): boolean {
  const groups = resourcesOf(json, "yandex_vpc_security_group");
  const byRef = (g: string) => groups[/^\$\{yandex_vpc_security_group\.([^.]+)\.id\}$/.exec(g)![1]];
  const out =
    from.groups.length === 0 ||
    from.groups.some((g) => ((byRef(g).egress ?? []) as Rule[]).some((r) => ruleCovers(r, protocol, port, to, from.groups, g)));
  const inn =
    to.groups.length === 0
      ? true
      : to.groups.some((g) => ((byRef(g).ingress ?? []) as Rule[]).some((r) => ruleCovers(r, protocol, port, from, to.groups, g)));
  if (from.groups.length === 0 && !to.publicIp) return false;
  return out && inn;
}

/** The stack's hosts as endpoints, with made-up private addresses in the subnet. */
function hosts(json: TerraformJson): Record<"mlflow" | "airflow" | "postgres" | "dataproc", Endpoint> {
  const vms = Object.values<any>(resourcesOf(json, "yandex_compute_instance"));
  const vm = (suffix: string, address: string): Endpoint => {
    const v = vms.find((x) => x.name.endsWith(suffix))!;
    return { name: suffix.slice(1), address, groups: v.network_interface[0].security_group_ids, publicIp: v.network_interface[0].nat === true };
  };
  const pg = onlyResource(json, "yandex_mdb_postgresql_cluster");
  const dp = onlyResource(json, "yandex_dataproc_cluster");
  return {
    mlflow: vm("-mlflow", "10.10.0.10"),
    airflow: vm("-airflow", "10.10.0.11"),
    postgres: { name: "postgres", address: "10.10.0.20", groups: pg.security_group_ids, publicIp: pg.host.some((h: any) => h.assign_public_ip) },
    dataproc: {
      name: "dataproc",
      address: "10.10.0.30",
      groups: dp.security_group_ids,
      publicIp: dp.cluster_config.subcluster_spec.some((s: any) => s.assign_public_ip),
    },
  };
}

const internet = (address: string): Endpoint => ({ name: `internet ${address}`, address, groups: [], publicIp: true });
const ADMIN = internet("93.184.216.77"); // inside adminCidrs 93.184.216.0/24
const STRANGER = internet("198.18.5.5");
const PROBE_PORTS = [22, 80, 443, 5000, 6432, 8080, 8088, 9870, 18080];

/** Every "name:port" (TCP) `from` can reach among `targets`. */
function reachable(json: TerraformJson, from: Endpoint, targets: readonly Endpoint[]): string[] {
  return targets.flatMap((t) => PROBE_PORTS.filter((p) => t !== from && allowed(json, from, t, "TCP", p)).map((p) => `${t.name}:${p}`));
}

// the UI Proxy (on by default) adds one rule, tested on its own below
const { json, text } = synthStack(deployableConfig({ dataproc: { computeMaxHostsCount: 2, uiProxy: false } }));
const h = hosts(json);
const all = Object.values(h);

describe("Network: who can reach what (the whole rule set, evaluated)", () => {
  it("from the internet: only SSH and HTTPS of the two VMs, only from adminCidrs", () => {
    expect(reachable(json, ADMIN, all)).toEqual(["mlflow:22", "mlflow:443", "airflow:22", "airflow:443"]);
    expect(reachable(json, STRANGER, all)).toEqual([]);
  });

  it("from the Data Proc cluster (user code): MLflow's HTTPS only; no SSH, no PostgreSQL, no Airflow", () => {
    expect(reachable(json, h.dataproc, all)).toEqual(["mlflow:443"]);
    // the cluster's own hosts talk freely (Data Proc's requirement)
    const peer = { ...h.dataproc, name: "dataproc-2", address: "10.10.0.31" };
    expect(reachable(json, h.dataproc, [peer])).toEqual(PROBE_PORTS.map((p) => `dataproc-2:${p}`));
  });

  it("from the VMs: PostgreSQL's 6432 only; nothing on the cluster or on each other", () => {
    expect(reachable(json, h.mlflow, all)).toEqual(["postgres:6432"]);
    expect(reachable(json, h.airflow, all)).toEqual(["postgres:6432"]);
  });

  it("out to the internet: HTTPS and NTP from every host, plain HTTP only to the metadata service", () => {
    const world = internet("1.1.1.1");
    const metadata = internet(METADATA_SERVICE.split("/")[0]);
    for (const host of all) {
      expect({ host: host.name, https: allowed(json, host, world, "TCP", 443), ntp: allowed(json, host, world, "UDP", 123) }).toEqual({
        host: host.name,
        https: true,
        ntp: true,
      });
      expect({ host: host.name, http: allowed(json, host, world, "TCP", 80) }).toEqual({ host: host.name, http: false });
      expect({ host: host.name, metadata: allowed(json, host, metadata, "TCP", 80) }).toEqual({ host: host.name, metadata: true });
    }
  });

  it("with the UI Proxy on, admits HTTPS to the cluster's hosts, which have no public address", () => {
    const withProxy = synthStack(deployableConfig({ dataproc: { uiProxy: true } })).json;
    const ph = hosts(withProxy);
    expect(ph.dataproc.publicIp).toBe(false);
    expect(reachable(withProxy, ADMIN, Object.values(ph))).toEqual(["mlflow:22", "mlflow:443", "airflow:22", "airflow:443"]);
    // from inside the network, 443 of the cluster is then open (the VMs may use HTTPS anywhere)
    expect(reachable(withProxy, ph.mlflow, [ph.dataproc])).toEqual(["dataproc:443"]);
    expect(reachable(json, h.mlflow, [h.dataproc])).toEqual([]);
  });

  it("opens the world only with the opt-in, and then only 22 and 443 of the VMs", () => {
    const open = synthStack(deployableConfig({ adminCidrs: [ANY_IPV4], allowWorldAdminAccess: true })).json;
    const oh = hosts(open);
    expect(reachable(open, STRANGER, Object.values(oh))).toEqual(["mlflow:22", "mlflow:443", "airflow:22", "airflow:443"]);
  });
});

describe("Network: groups", () => {
  const groups = resourcesOf(json, "yandex_vpc_security_group");
  const groupRef = (suffix: string) => ref("yandex_vpc_security_group", Object.keys(groups).find((k) => groups[k].name.endsWith(suffix))!);

  it("has the hosts' shared group, the cluster's own group and three role groups", () => {
    expect(Object.values(groups).map((g: any) => g.name).sort()).toEqual(["fraud-dataproc", "fraud-mlflow", "fraud-postgres", "fraud-shared", "fraud-vm"]);
  });

  it("puts the VMs and PostgreSQL in the shared group, the cluster in its own group only", () => {
    expect(h.mlflow.groups).toEqual([groupRef("-shared"), groupRef("-vm"), groupRef("-mlflow")]);
    expect(h.airflow.groups).toEqual([groupRef("-shared"), groupRef("-vm")]);
    expect(h.postgres.groups).toEqual([groupRef("-shared"), groupRef("-postgres")]);
    // Data Proc: several groups would need "all traffic between them", which would open the VMs
    expect(h.dataproc.groups).toEqual([groupRef("-dataproc")]);
  });

  it("keeps the any-any self rule Data Proc requires on the cluster's group, in both directions", () => {
    const dp = groups[Object.keys(groups).find((k) => groups[k].name === "fraud-dataproc")!];
    for (const rules of [dp.ingress, dp.egress] as Rule[][]) {
      expect(rules).toContainEqual(
        expect.objectContaining({ protocol: "ANY", predefined_target: "self_security_group", from_port: 0, to_port: 65535 }),
      );
    }
    // and HTTPS out (Object Storage, UI Proxy, autoscaling)
    expect(dp.egress).toContainEqual(expect.objectContaining({ protocol: "TCP", port: 443, v4_cidr_blocks: [ANY_IPV4] }));
  });

  it("has no any-port rule outside the cluster's group", () => {
    for (const g of Object.values(groups).filter((x: any) => x.name !== "fraud-dataproc")) {
      for (const r of [...(g.ingress ?? []), ...(g.egress ?? [])] as Rule[]) {
        expect(r.protocol).not.toBe("ANY");
        expect(r.port).toBeDefined();
      }
    }
  });

  it("has no rule without a port in the shared group", () => {
    const shared = groups[Object.keys(groups).find((k) => groups[k].name === "fraud-shared")!];
    for (const r of [...shared.ingress, ...shared.egress] as Rule[]) {
      expect(r.protocol).not.toBe("ANY");
      expect(r.port).toBeDefined();
    }
  });
});

describe("Network: routing", () => {
  it("routes the subnet's outbound traffic through a NAT gateway (Data Proc needs it)", () => {
    const gwName = onlyName(json, "yandex_vpc_gateway");
    expect(onlyResource(json, "yandex_vpc_gateway").shared_egress_gateway).toEqual({});
    const rtName = onlyName(json, "yandex_vpc_route_table");
    expect(onlyResource(json, "yandex_vpc_route_table").static_route).toEqual([
      { destination_prefix: ANY_IPV4, gateway_id: ref("yandex_vpc_gateway", gwName) },
    ]);
    expect(text).toHaveResourceWithProperties(VpcSubnet, {
      route_table_id: ref("yandex_vpc_route_table", rtName),
      v4_cidr_blocks: ["10.10.0.0/24"],
      zone: "ru-central1-a",
    });
  });

  // tools/checkov/config.yaml skips CKV_YC_2 (VM with a public IP) for the whole stack, since
  // checkov reads no per-resource suppression in Terraform JSON; this pins what that skip covers.
  it("gives a public address to the two nginx VMs and to nothing else", () => {
    const vms = Object.values(resourcesOf(json, "yandex_compute_instance"));
    const publicVms = vms.filter((vm) => vm.network_interface.some((n: any) => n.nat)).map((vm) => vm.name).sort();
    expect(publicVms).toEqual(["fraud-airflow", "fraud-mlflow"]);
    expect(onlyResource(json, "yandex_mdb_postgresql_cluster").host.map((h: any) => h.assign_public_ip)).toEqual([false]);
    const subclusters = onlyResource(json, "yandex_dataproc_cluster").cluster_config.subcluster_spec as any[];
    expect(subclusters.map((s) => s.assign_public_ip)).toEqual(subclusters.map(() => false));
    expect(Object.keys(resourcesOf(json, "yandex_vpc_address"))).toHaveLength(publicVms.length);
  });
});
