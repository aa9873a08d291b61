import { Construct } from "constructs";
import { VpcGateway } from "../.gen/providers/yandex/vpc-gateway";
import { VpcNetwork } from "../.gen/providers/yandex/vpc-network";
import { VpcRouteTable } from "../.gen/providers/yandex/vpc-route-table";
import { VpcSecurityGroup, VpcSecurityGroupEgress, VpcSecurityGroupIngress } from "../.gen/providers/yandex/vpc-security-group";
import { VpcSubnet } from "../.gen/providers/yandex/vpc-subnet";

/** Everywhere on the IPv4 internet. */
export const ANY_IPV4 = "0.0.0.0/0";

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
   * The subnet's address range.
   *
   * @default "10.10.0.0/24"
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
 * ONE security group every host of the stack (VMs, Data Proc nodes, PostgreSQL hosts) shares.
 *
 * The group admits only SSH and HTTPS from `adminCidrs`; hosts of the group talk to each other
 * freely (the `self` rule Data Proc requires, which also covers PostgreSQL's 6432 and the MLflow
 * nginx for the Spark jobs); outbound is limited to HTTPS and HTTP (packages, Object Storage,
 * Lockbox, Yandex APIs), NTP, and DNS inside the subnet.
 */
export class Network extends Construct {
  /** @attribute */
  public readonly networkId: string;
  /** @attribute */
  public readonly subnetId: string;
  /** @attribute */
  public readonly securityGroupId: string;
  /** Zone of the subnet. */
  public readonly zone: string;
  public readonly subnetCidr: string;

  public readonly vpc: VpcNetwork;
  public readonly subnet: VpcSubnet;
  public readonly natGateway: VpcGateway;
  public readonly routeTable: VpcRouteTable;
  public readonly securityGroup: VpcSecurityGroup;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    if (props.adminCidrs.length === 0) {
      throw new Error("network: adminCidrs is empty; nobody could reach the hosts");
    }
    const labels = props.labels;
    this.zone = props.zone;
    this.subnetCidr = props.subnetCidr ?? "10.10.0.0/24";

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

    const admins = [...props.adminCidrs];
    const ingress: VpcSecurityGroupIngress[] = [
      { description: "SSH from admin networks", protocol: "TCP", port: 22, v4CidrBlocks: admins },
      { description: "HTTPS (nginx: MLflow, Airflow) from admin networks", protocol: "TCP", port: 443, v4CidrBlocks: admins },
      // Data Proc refuses to create a cluster without this rule; it also lets the VMs reach
      // PostgreSQL (6432) and the Spark jobs reach MLflow's nginx.
      { description: "any traffic between members of this group (Data Proc requirement)", protocol: "ANY", fromPort: 0, toPort: 65535, predefinedTarget: "self_security_group" },
    ];
    const egress: VpcSecurityGroupEgress[] = [
      { description: "any traffic between members of this group (Data Proc requirement)", protocol: "ANY", fromPort: 0, toPort: 65535, predefinedTarget: "self_security_group" },
      { description: "HTTPS out: Object Storage, Lockbox, Yandex APIs, PyPI, UI proxy", protocol: "TCP", port: 443, v4CidrBlocks: [ANY_IPV4] },
      { description: "HTTP out: Debian/Ubuntu package mirrors", protocol: "TCP", port: 80, v4CidrBlocks: [ANY_IPV4] },
      { description: "NTP out: clock sync (TLS and IAM tokens need a correct clock)", protocol: "UDP", port: 123, v4CidrBlocks: [ANY_IPV4] },
      { description: "DNS to the subnet's resolver", protocol: "UDP", port: 53, v4CidrBlocks: [this.subnetCidr] },
      { description: "DNS over TCP to the subnet's resolver", protocol: "TCP", port: 53, v4CidrBlocks: [this.subnetCidr] },
    ];

    this.securityGroup = new VpcSecurityGroup(this, "SecurityGroup", {
      name: `${props.namePrefix}-shared`,
      folderId: props.folderId,
      networkId: this.vpc.id,
      description: "The one security group of MLflow, Airflow, Data Proc and PostgreSQL",
      ingress,
      egress,
      labels,
    });

    this.networkId = this.vpc.id;
    this.subnetId = this.subnet.id;
    this.securityGroupId = this.securityGroup.id;
  }
}
