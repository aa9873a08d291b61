import { Construct } from "constructs";
import { DataResource, Fn, TerraformLocal } from "cdktf";
// renders a bare resource address, which is what Terraform's JSON syntax takes in
// replace_triggered_by (cdktf 0.21 writes a resource given there as "${...}", which Terraform
// 1.5 rejects: "Invalid character")
import { dependable } from "cdktf/lib/tfExpression";
import { ComputeInstance } from "../.gen/providers/yandex/compute-instance";
import { DataYandexComputeImage } from "../.gen/providers/yandex/data-yandex-compute-image";
import { VpcAddress } from "../.gen/providers/yandex/vpc-address";
import { escapeTerraformTemplate } from "../cloud-init/terraform-escape";
import { FLEET } from "./fleet-versions";
import { checkProps, PropRules } from "./prop-rules";

/** Where and how big a VM is; shared by MlflowServerProps and AirflowHostProps. */
export interface HostInstanceProps {
  /** Instance name (also its host name). */
  readonly name: string;
  readonly folderId: string;
  readonly zone: string;
  readonly subnetId: string;
  /** The VM's security groups (`Network.mlflowSecurityGroupIds` / `airflowSecurityGroupIds`). */
  readonly securityGroupIds: readonly string[];
  /** Service account the VM runs as (reads its Lockbox secrets with it). */
  readonly serviceAccountId: string;
  /**
   * Boot image id.
   * @default the latest image of `imageFamily` in the standard-images folder
   */
  readonly imageId?: string;
  /**
   * Image family used when `imageId` is not given. The default is the release the boot test boots
   * and the VM locks are compiled for (versions.json `vm.imageFamily`).
   * @default HOST_INSTANCE_DEFAULTS.imageFamily (versions.json `vm.imageFamily`)
   */
  readonly imageFamily?: string;
  /**
   * @default HOST_INSTANCE_DEFAULTS.platformId ("standard-v3")
   */
  readonly platformId?: string;
  /**
   * @default HOST_INSTANCE_DEFAULTS.cores (2)
   */
  readonly cores?: number;
  /**
   * Memory in GB.
   * @default HOST_INSTANCE_DEFAULTS.memoryGb (4)
   */
  readonly memoryGb?: number;
  /**
   * Guaranteed vCPU share, percent.
   * @default HOST_INSTANCE_DEFAULTS.coreFraction (100)
   */
  readonly coreFraction?: number;
  /**
   * Boot disk size in GB.
   * @default HOST_INSTANCE_DEFAULTS.diskSizeGb (30)
   */
  readonly diskSizeGb?: number;
  /**
   * @default HOST_INSTANCE_DEFAULTS.diskType ("network-ssd")
   */
  readonly diskType?: string;
  /**
   * Preemptible: cheaper; Yandex stops it at least once a day (a start brings the services back).
   * @default HOST_INSTANCE_DEFAULTS.preemptible (false)
   */
  readonly preemptible?: boolean;
  /**
   * Give the VM a public IPv4 address (users reach nginx on 443 through it; the SG limits who).
   * The address is reserved (`yandex_vpc_address`), so a replaced VM keeps it.
   * @default HOST_INSTANCE_DEFAULTS.publicIp (true)
   */
  readonly publicIp?: boolean;
  /**
   * @default - no labels
   */
  readonly labels?: Record<string, string>;
}

/** The one statement of each optional size prop's default. */
export const HOST_INSTANCE_DEFAULTS = {
  imageFamily: FLEET.vm.imageFamily,
  platformId: "standard-v3",
  cores: 2,
  memoryGb: 4,
  coreFraction: 100,
  // what the stack has always deployed (the config's old default); the construct said 20 until the
  // defaults moved here
  diskSizeGb: 30,
  diskType: "network-ssd",
  preemptible: false,
  publicIp: true,
} as const;

/** Limits of the size props (checked by the config loader with the key's name, and by the construct). */
export const HOST_INSTANCE_RULES: PropRules<HostInstanceProps> = {
  cores: { kind: "int", min: 2, max: 96 },
  // Yandex's platforms give at least 1 GB per core: 2 cores need 2 GB
  memoryGb: { kind: "int", min: 2, max: 640 },
  coreFraction: { kind: "int", min: 5, max: 100, oneOf: [5, 20, 50, 100] },
  diskSizeGb: { kind: "int", min: 10, max: 4096 },
  diskType: { kind: "cloudName" },
  imageFamily: { kind: "cloudName" },
  platformId: { kind: "cloudName" },
  preemptible: { kind: "bool" },
  publicIp: { kind: "bool" },
};

/**
 * The VM's name inside the cloud network: a VM with a `hostname` is `<hostname>.<region>.internal`
 * (provider docs of `yandex_compute_instance.hostname`). Known at synth time and the same for every
 * VM that replaces it, unlike its DHCP address.
 */
export function internalFqdn(name: string, zone: string): string {
  const region = /^(.*)-[a-z]$/.exec(zone)?.[1];
  if (!region) throw new Error(`${name}: cannot tell the region of zone ${JSON.stringify(zone)}`);
  return `${name}.${region}.internal`;
}

/** A host VM and what keeps it in step with its rendered spec. */
export interface HostInstance {
  readonly instance: ComputeInstance;
  /**
   * `terraform_data` holding Terraform's SHA-256 of the user-data with every reference resolved, and
   * the image it boots; the instance is replaced whenever it changes (`replace_triggered_by`).
   */
  readonly spec: DataResource;
  /** The reserved public address (absent without `publicIp`). */
  readonly publicAddress?: VpcAddress;
}

/**
 * A compute instance configured only by its rendered user-data.
 *
 * cloud-init applies user-data once per instance, and the provider updates the `metadata` of a
 * running VM in place, so a changed spec would never reach the VM. Instead the VM is replaced when
 * its user-data changes: nothing that matters lives only on its disk (state in PostgreSQL and Object
 * Storage, secrets in Lockbox), and its public address is reserved, so users keep their URL.
 */
export function createHostInstance(scope: Construct, p: HostInstanceProps, userData: string): HostInstance {
  checkProps(p.name, p, HOST_INSTANCE_RULES);
  const d = HOST_INSTANCE_DEFAULTS;
  const imageFamily = p.imageFamily ?? d.imageFamily;
  const imageId = p.imageId ?? new DataYandexComputeImage(scope, "Image", { family: imageFamily, folderId: "standard-images" }).id;
  // one copy of the user-data in the JSON: the metadata and the hash both read the local.
  const rendered = new TerraformLocal(scope, "UserData", escapeTerraformTemplate(userData));
  // the spec also names the image the VM boots: another family (or a pinned image) replaces the VM,
  // a newer image of the same family does not (ignore_changes below)
  const spec = new DataResource(scope, "Spec", {
    input: { user_data_sha256: Fn.sha256(rendered.asString), image: p.imageId ?? `family ${imageFamily}` },
  });
  const publicAddress = (p.publicIp ?? d.publicIp)
    ? new VpcAddress(scope, "PublicAddress", {
        name: `${p.name}-public`,
        folderId: p.folderId,
        description: `public address of ${p.name} (kept when the VM is replaced)`,
        externalIpv4Address: { zoneId: p.zone },
        labels: p.labels,
      })
    : undefined;
  const instance = new ComputeInstance(scope, "Instance", {
    name: p.name,
    hostname: p.name,
    folderId: p.folderId,
    zone: p.zone,
    platformId: p.platformId ?? d.platformId,
    serviceAccountId: p.serviceAccountId,
    resources: { cores: p.cores ?? d.cores, memory: p.memoryGb ?? d.memoryGb, coreFraction: p.coreFraction ?? d.coreFraction },
    bootDisk: { initializeParams: { imageId, size: p.diskSizeGb ?? d.diskSizeGb, type: p.diskType ?? d.diskType } },
    schedulingPolicy: (p.preemptible ?? d.preemptible) ? { preemptible: true } : undefined,
    networkInterface: [{
      subnetId: p.subnetId,
      nat: publicAddress !== undefined,
      natIpAddress: publicAddress?.externalIpv4Address.address,
      securityGroupIds: [...p.securityGroupIds],
    }],
    // user-data only: the admin's SSH key is in it too (ssh-keys metadata would add a second path)
    metadata: { "user-data": rendered.asString },
    allowStoppingForUpdate: true,
    labels: p.labels,
    lifecycle: {
      // a newer image in the family must not replace a running VM
      ignoreChanges: ["boot_disk[0].initialize_params[0].image_id"],
      // a changed spec does: the new VM boots from it (the old one is deleted first)
      replaceTriggeredBy: [dependable(spec)],
    },
  });
  return { instance, spec, publicAddress };
}
