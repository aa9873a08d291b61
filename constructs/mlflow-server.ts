import { Construct } from "constructs";
import { DataResource } from "cdktf";
import { ComputeInstance } from "../.gen/providers/yandex/compute-instance";
import { createHostInstance, HostInstanceProps, internalFqdn } from "./host-instance";
import { MLFLOW_PORT, MlflowHostParams, RenderedHost, renderMlflowHost } from "../cloud-init/host-render";

/**
 * Props of the MLflow VM: where it runs (HostInstanceProps) and what it serves
 * (MlflowHostParams, minus the host name, which is `name`).
 */
export interface MlflowServerProps extends HostInstanceProps, Omit<MlflowHostParams, "hostname"> {}

/**
 * The MLflow VM: `mlflow server` (own user, venv, Managed PostgreSQL backend on 6432, artifacts
 * proxied to the bucket, bound to 127.0.0.1:5000) behind nginx with TLS and basic auth on 443.
 * Configured only by its user-data; secrets are read from Lockbox at boot.
 */
export class MlflowServer extends Construct {
  public readonly instance: ComputeInstance;
  /** The hash of the rendered spec that replaces the VM when it changes. */
  public readonly spec: DataResource;
  /** The rendered host (user-data, files, units), for tests and outputs. */
  public readonly rendered: RenderedHost;
  /** Private IPv4 address. */
  public readonly privateIp: string;
  /** Public IPv4 address (empty without `publicIp`). */
  public readonly publicIp: string;
  /**
   * Tracking URI for clients inside the network (nginx, TLS, basic auth): the VM's internal DNS name,
   * which a replacement VM keeps, so the Airflow VM's config does not change with it.
   */
  public readonly internalTrackingUri: string;
  /** Port MLflow itself listens on, on loopback only. */
  public static readonly LOOPBACK_PORT = MLFLOW_PORT;

  constructor(scope: Construct, id: string, props: MlflowServerProps) {
    super(scope, id);
    const fqdn = internalFqdn(props.name, props.zone);
    // the certificate and MLflow's allowed hosts must name what the jobs connect to
    this.rendered = renderMlflowHost({ ...props, hostname: props.name, extraHostNames: [fqdn, ...(props.extraHostNames ?? [])] });
    ({ instance: this.instance, spec: this.spec } = createHostInstance(this, props, this.rendered.userData));
    this.privateIp = this.instance.networkInterface.get(0).ipAddress;
    this.publicIp = this.instance.networkInterface.get(0).natIpAddress;
    this.internalTrackingUri = `https://${fqdn}`;
  }
}
