import { Construct } from "constructs";
import { ComputeInstance } from "../.gen/providers/yandex/compute-instance";
import { createHostInstance, HostInstanceProps } from "./host-instance";
import { MLFLOW_PORT, MlflowHostParams, RenderedHost, renderMlflowHost } from "./host-render";

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
  /** The rendered host (user-data, files, units), for tests and outputs. */
  public readonly rendered: RenderedHost;
  /** Private IPv4 address. */
  public readonly privateIp: string;
  /** Public IPv4 address (empty without `publicIp`). */
  public readonly publicIp: string;
  /** Tracking URI for clients inside the network (nginx, TLS, basic auth). */
  public readonly internalTrackingUri: string;
  /** Port MLflow itself listens on, on loopback only. */
  public static readonly LOOPBACK_PORT = MLFLOW_PORT;

  constructor(scope: Construct, id: string, props: MlflowServerProps) {
    super(scope, id);
    this.rendered = renderMlflowHost({ ...props, hostname: props.name });
    this.instance = createHostInstance(this, props, this.rendered.userData);
    this.privateIp = this.instance.networkInterface.get(0).ipAddress;
    this.publicIp = this.instance.networkInterface.get(0).natIpAddress;
    this.internalTrackingUri = `https://${this.privateIp}`;
  }
}
