import { Construct } from "constructs";
import { ComputeInstance } from "../.gen/providers/yandex/compute-instance";
import { DataYandexComputeImage } from "../.gen/providers/yandex/data-yandex-compute-image";
import { escapeTerraformTemplate } from "../cloud-init/terraform-escape";
import { FLEET } from "./fleet-versions";

/** Where and how big a VM is; shared by MlflowServerProps and AirflowHostProps. */
export interface HostInstanceProps {
  /** Instance name (also its host name). */
  readonly name: string;
  readonly folderId: string;
  readonly zone: string;
  readonly subnetId: string;
  /** The stack's one shared security group. */
  readonly securityGroupId: string;
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
   * @default "debian-12"
   */
  readonly imageFamily?: string;
  /**
   * @default "standard-v3"
   */
  readonly platformId?: string;
  /**
   * @default 2
   */
  readonly cores?: number;
  /**
   * Memory in GB.
   * @default 4
   */
  readonly memoryGb?: number;
  /**
   * Guaranteed vCPU share, percent.
   * @default 100
   */
  readonly coreFraction?: number;
  /**
   * Boot disk size in GB.
   * @default 20
   */
  readonly diskSizeGb?: number;
  /**
   * @default "network-ssd"
   */
  readonly diskType?: string;
  /**
   * Preemptible: cheaper; Yandex stops it at least once a day (a start brings the services back).
   * @default false
   */
  readonly preemptible?: boolean;
  /**
   * Give the VM a public IPv4 address (users reach nginx on 443 through it; the SG limits who).
   * @default true
   */
  readonly publicIp?: boolean;
  /**
   * @default - no labels
   */
  readonly labels?: Record<string, string>;
}

function checkSizes(p: HostInstanceProps): void {
  const bad = (what: string, v: unknown) => {
    throw new Error(`${p.name}: bad ${what} ${JSON.stringify(v)}`);
  };
  if (!Number.isInteger(p.cores ?? 2) || (p.cores ?? 2) < 2) bad("cores (at least 2)", p.cores);
  if (!((p.memoryGb ?? 4) >= 2)) bad("memoryGb (at least 2)", p.memoryGb);
  if (![5, 20, 50, 100].includes(p.coreFraction ?? 100)) bad("coreFraction (5, 20, 50 or 100)", p.coreFraction);
  if (!Number.isInteger(p.diskSizeGb ?? 20) || (p.diskSizeGb ?? 20) < 10) bad("diskSizeGb (at least 10)", p.diskSizeGb);
}

/** A compute instance configured only by its rendered user-data. */
export function createHostInstance(scope: Construct, p: HostInstanceProps, userData: string): ComputeInstance {
  checkSizes(p);
  const imageId =
    p.imageId ??
    new DataYandexComputeImage(scope, "Image", { family: p.imageFamily ?? FLEET.vm.imageFamily, folderId: "standard-images" }).id;
  return new ComputeInstance(scope, "Instance", {
    name: p.name,
    hostname: p.name,
    folderId: p.folderId,
    zone: p.zone,
    platformId: p.platformId ?? "standard-v3",
    serviceAccountId: p.serviceAccountId,
    resources: { cores: p.cores ?? 2, memory: p.memoryGb ?? 4, coreFraction: p.coreFraction ?? 100 },
    bootDisk: { initializeParams: { imageId, size: p.diskSizeGb ?? 20, type: p.diskType ?? "network-ssd" } },
    schedulingPolicy: p.preemptible ? { preemptible: true } : undefined,
    networkInterface: [{ subnetId: p.subnetId, nat: p.publicIp ?? true, securityGroupIds: [p.securityGroupId] }],
    // user-data only: the admin's SSH key is in it too (ssh-keys metadata would add a second path)
    metadata: { "user-data": escapeTerraformTemplate(userData) },
    allowStoppingForUpdate: true,
    labels: p.labels,
    // a newer image in the family must not replace a running VM
    lifecycle: { ignoreChanges: ["boot_disk[0].initialize_params[0].image_id"] },
  });
}
