import { Construct } from "constructs";
import { VpcGateway } from "../.gen/providers/yandex/vpc-gateway";
import { VpcNetwork } from "../.gen/providers/yandex/vpc-network";
import { VpcRouteTable } from "../.gen/providers/yandex/vpc-route-table";
import { VpcSecurityGroup, VpcSecurityGroupEgress } from "../.gen/providers/yandex/vpc-security-group";
import { VpcSubnet } from "../.gen/providers/yandex/vpc-subnet";
import { POSTGRES_PORT } from "./mlflow-backend";

/** Everywhere on the IPv4 internet. */
export const ANY_IPV4 = "0.0.0.0/0";
/** The VM metadata service (IAM tokens of the VM's service account, instance facts); plain HTTP. */
export const METADATA_SERVICE = "169.254.169.254/32";


/** The one statement of each optional prop's default. */
export const NETWORK_DEFAULTS = {
  dataprocUiProxy: false,
  subnetCidr: "10.10.0.0/24",
} as const;

export interface NetworkProps {
  /** Prefix of every resource name. */
  readonly namePrefix: string;
  /** Folder the network lives in. */
  readonly folderId: string;
  /** Zone of the subnet (every host of the stack lives in it). */
  readonly zone: string;
  /** Addresses allowed to reach SSH (22) and HTTPS (443) from the internet; validated by the config. */
  readonly adminCidrs: readonly string[];
  /**
   * Admit HTTPS to the Data Proc hosts from anywhere, as Yandex's UI Proxy needs
   * (data-proc/operations/security-groups.md). The hosts have no public address, so only the cloud
   * network and the UI Proxy can use it.
   *
   * @default NETWORK_DEFAULTS.dataprocUiProxy (false)
   */
  readonly dataprocUiProxy?: boolean;
  /**
   * The subnet's address range.
   *
   * @default NETWORK_DEFAULTS.subnetCidr ("10.10.0.0/24")
   */
  readonly subnetCidr?: string;
  /**
   * Labels put on every resource.
   *
   * @default - no labels
   */
  readonly labels?: Record<string, string>;
}

/**
 * A VPC network with one subnet, a NAT gateway for outbound traffic (Data Proc requires it), and the
 * security groups of the stack.
 *
 * Security groups in Yandex Cloud only add permissions (a host may do what ANY of its groups
 * allows), and Data Proc needs an any-port, any-protocol rule between the members of its group
 * (and "all traffic between" a cluster's groups if it has several). A host in the cluster's group
 * is therefore open to any code running on the cluster, and no other group can take that back. So:
 *  - `securityGroup` (`<prefix>-shared`) is the group every host but the cluster shares (both VMs,
 *    PostgreSQL): SSH and HTTPS from `adminCidrs`, and the outbound rules every host needs;
 *  - `dataprocSecurityGroup` (`<prefix>-dataproc`) is the cluster's only group: the any-any rule
 *    between its members, HTTPS out, and HTTPS in for the UI Proxy when it is on;
 *  - small role groups open one port of one kind of host to exactly the hosts that need it:
 *    `<prefix>-postgres` (6432 from the VMs), `<prefix>-mlflow` (443 from the cluster: the Spark
 *    jobs log to MLflow through nginx), `<prefix>-vm` (6432 out to PostgreSQL).
 * Outbound, every host may use HTTPS (Object Storage, Lockbox, Yandex APIs, PyPI, apt's mirrors
 * over HTTPS), NTP, DNS to the subnet's resolver and the metadata service (plain HTTP on
 * 169.254.169.254 only); no plain HTTP to the internet.
 */
export class Network extends Construct {
  /** @attribute */
  public readonly networkId: string;
  /** @attribute */
  public readonly subnetId: string;
  /** The Data Proc cluster's group (its only one). @attribute */
  public readonly dataprocSecurityGroupId: string;
  /** Groups of the PostgreSQL hosts: shared + postgres. */
  public readonly postgresSecurityGroupIds: readonly string[];
  /** Groups of the MLflow VM: shared + vm + mlflow. */
  public readonly mlflowSecurityGroupIds: readonly string[];
  /** Groups of the Airflow VM: shared + vm. */
  public readonly airflowSecurityGroupIds: readonly string[];
  /** Zone of the subnet. */
  public readonly zone: string;
  public readonly subnetCidr: string;

  public readonly vpc: VpcNetwork;
  public readonly subnet: VpcSubnet;
  public readonly natGateway: VpcGateway;
  public readonly routeTable: VpcRouteTable;
  public readonly securityGroup: VpcSecurityGroup;
  public readonly dataprocSecurityGroup: VpcSecurityGroup;
  public readonly postgresSecurityGroup: VpcSecurityGroup;
  public readonly mlflowSecurityGroup: VpcSecurityGroup;
  public readonly vmSecurityGroup: VpcSecurityGroup;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    if (props.adminCidrs.length === 0) {
      throw new Error("network: adminCidrs is empty; nobody could reach the hosts");
    }
    const labels = props.labels;
    this.zone = props.zone;
    this.subnetCidr = props.subnetCidr ?? NETWORK_DEFAULTS.subnetCidr;

    this.vpc = new VpcNetwork(this, "Resource", {
      name: `${props.namePrefix}-net`,
      folderId: props.folderId,
      description: "MLflow, Airflow and Data Proc of the fraud-model platform",
      labels,
    });

    // an empty shared_egress_gateway block is what makes this gateway a NAT gateway.
    this.natGateway = new VpcGateway(this, "NatGateway", {
      name: `${props.namePrefix}-nat`,
      folderId: props.folderId,
      sharedEgressGateway: {},
      labels,
    });

    this.routeTable = new VpcRouteTable(this, "RouteTable", {
      name: `${props.namePrefix}-egress`,
      folderId: props.folderId,
      networkId: this.vpc.id,
      staticRoute: [{ destinationPrefix: ANY_IPV4, gatewayId: this.natGateway.id }],
      labels,
    });

    this.subnet = new VpcSubnet(this, "Subnet", {
      name: `${props.namePrefix}-${props.zone}`,
      folderId: props.folderId,
      networkId: this.vpc.id,
      zone: props.zone,
      v4CidrBlocks: [this.subnetCidr],
      routeTableId: this.routeTable.id,
      labels,
    });

    // what every host needs outbound, whichever group it is in
    const commonEgress: VpcSecurityGroupEgress[] = [
      { description: "HTTPS out: Object Storage, Lockbox, Yandex APIs, PyPI, apt mirrors, UI proxy", protocol: "TCP", port: 443, v4CidrBlocks: [ANY_IPV4] },
      { description: "NTP out: clock sync (TLS and IAM tokens need a correct clock)", protocol: "UDP", port: 123, v4CidrBlocks: [ANY_IPV4] },
      { description: "DNS to the subnet's resolver", protocol: "UDP", port: 53, v4CidrBlocks: [this.subnetCidr] },
      { description: "DNS over TCP to the subnet's resolver", protocol: "TCP", port: 53, v4CidrBlocks: [this.subnetCidr] },
      { description: "the metadata service: the IAM token of the host's service account", protocol: "TCP", port: 80, v4CidrBlocks: [METADATA_SERVICE] },
    ];

    this.dataprocSecurityGroup = new VpcSecurityGroup(this, "DataprocSecurityGroup", {
      name: `${props.namePrefix}-dataproc`,
      folderId: props.folderId,
      networkId: this.vpc.id,
      description: "The Data Proc cluster's only group: its hosts talk to each other freely (a Data Proc requirement), nobody else reaches them",
      ingress: [
        { description: "any traffic between the cluster's hosts (Data Proc requirement)", protocol: "ANY", fromPort: 0, toPort: 65535, predefinedTarget: "self_security_group" },
        ...(props.dataprocUiProxy
          ? [{ description: "HTTPS for Yandex's UI Proxy (the hosts have no public address)", protocol: "TCP", port: 443, v4CidrBlocks: [ANY_IPV4] }]
          : []),
      ],
      egress: [
        { description: "any traffic between the cluster's hosts (Data Proc requirement)", protocol: "ANY", fromPort: 0, toPort: 65535, predefinedTarget: "self_security_group" },
        ...commonEgress,
      ],
      labels,
    });

    const admins = [...props.adminCidrs];
    this.securityGroup = new VpcSecurityGroup(this, "SecurityGroup", {
      name: `${props.namePrefix}-shared`,
      folderId: props.folderId,
      networkId: this.vpc.id,
      description: "Shared by the MLflow VM, the Airflow VM and PostgreSQL; the Data Proc cluster has its own group",
      ingress: [
        { description: "SSH from admin networks", protocol: "TCP", port: 22, v4CidrBlocks: admins },
        { description: "HTTPS (nginx: MLflow, Airflow) from admin networks", protocol: "TCP", port: 443, v4CidrBlocks: admins },
      ],
      egress: commonEgress,
      labels,
    });

    // role groups: a port of one host opened to exactly the hosts that need it
    this.postgresSecurityGroup = new VpcSecurityGroup(this, "PostgresSecurityGroup", {
      name: `${props.namePrefix}-postgres`,
      folderId: props.folderId,
      networkId: this.vpc.id,
      description: `PostgreSQL hosts: ${POSTGRES_PORT} (Odyssey) from the VMs of the shared group`,
      ingress: [
        { description: `PostgreSQL (Odyssey, ${POSTGRES_PORT}) from the VMs`, protocol: "TCP", port: POSTGRES_PORT, securityGroupId: this.securityGroup.id },
      ],
      labels,
    });
    this.mlflowSecurityGroup = new VpcSecurityGroup(this, "MlflowSecurityGroup", {
      name: `${props.namePrefix}-mlflow`,
      folderId: props.folderId,
      networkId: this.vpc.id,
      description: "The MLflow VM: HTTPS from the Data Proc cluster (the Spark jobs log to MLflow through nginx)",
      ingress: [
        { description: "HTTPS from the Data Proc cluster (Spark jobs -> MLflow's nginx)", protocol: "TCP", port: 443, securityGroupId: this.dataprocSecurityGroup.id },
      ],
      labels,
    });
    this.vmSecurityGroup = new VpcSecurityGroup(this, "VmSecurityGroup", {
      name: `${props.namePrefix}-vm`,
      folderId: props.folderId,
      networkId: this.vpc.id,
      description: "The MLflow and Airflow VMs: PostgreSQL out",
      egress: [
        { description: `PostgreSQL (Odyssey, ${POSTGRES_PORT}) to the database hosts`, protocol: "TCP", port: POSTGRES_PORT, securityGroupId: this.postgresSecurityGroup.id },
      ],
      labels,
    });

    this.networkId = this.vpc.id;
    this.subnetId = this.subnet.id;
    this.dataprocSecurityGroupId = this.dataprocSecurityGroup.id;
    this.postgresSecurityGroupIds = [this.securityGroup.id, this.postgresSecurityGroup.id];
    this.mlflowSecurityGroupIds = [this.securityGroup.id, this.vmSecurityGroup.id, this.mlflowSecurityGroup.id];
    this.airflowSecurityGroupIds = [this.securityGroup.id, this.vmSecurityGroup.id];
  }
}
