import { Construct } from "constructs";
import { DataResource } from "cdktf";
import { ComputeInstance } from "../.gen/providers/yandex/compute-instance";
import { createHostInstance, HostInstanceProps } from "./host-instance";
import { AirflowHostParams, RenderedHost, renderAirflowHost } from "../cloud-init/host-render";
import { readDagSources } from "../cloud-init/host-templates";

/**
 * Props of the Airflow VM: where it runs (HostInstanceProps) and what it runs (AirflowHostParams,
 * minus the host name and the DAG sources, which are read from the repo at synth time).
 */
export interface AirflowHostProps
  extends HostInstanceProps,
    Omit<AirflowHostParams, "hostname" | "dagFiles" | "pipelineSpec"> {
  /**
   * Repository root to read jobs/dags/*.py and jobs/fraud_jobs/pipeline_spec.py from.
   * @default the repository this file is in
   */
  readonly repoRoot?: string;
  /**
   * Memory in GB: four Airflow services (api-server, scheduler, dag-processor, triggerer) need more
   * than the MLflow VM.
   * @default AIRFLOW_HOST_DEFAULTS.memoryGb (8)
   */
  readonly memoryGb?: number;
}

/**
 * The Airflow VM's own defaults, where they differ from any VM's (`HOST_INSTANCE_DEFAULTS`): four
 * Airflow services need more memory than MLflow.
 */
export const AIRFLOW_HOST_DEFAULTS = { memoryGb: 8 } as const;

/**
 * The Airflow 3 VM: api-server (the UI, 127.0.0.1:8080), scheduler, dag-processor and triggerer
 * as systemd units, metadata in Managed PostgreSQL (database `airflow`), nginx with TLS and basic
 * auth on 443, the DAG and its config, and the Yandex connection using the VM's service account.
 */
export class AirflowHost extends Construct {
  public readonly instance: ComputeInstance;
  /** The hash of the rendered spec that replaces the VM when it changes. */
  public readonly spec: DataResource;
  public readonly rendered: RenderedHost;
  public readonly privateIp: string;
  public readonly publicIp: string;

  constructor(scope: Construct, id: string, props: AirflowHostProps) {
    super(scope, id);
    this.rendered = renderAirflowHost({ ...props, hostname: props.name, ...readDagSources(props.repoRoot) });
    ({ instance: this.instance, spec: this.spec } = createHostInstance(this, { ...props, memoryGb: props.memoryGb ?? AIRFLOW_HOST_DEFAULTS.memoryGb }, this.rendered.userData));
    this.privateIp = this.instance.networkInterface.get(0).ipAddress;
    this.publicIp = this.instance.networkInterface.get(0).natIpAddress;
  }
}
