/**
 * The pipeline config's contract with the jobs: the JSON Schema that jobs/pipeline_schema.py
 * generates from PipelineConfig (jobs/fraud_jobs/pipeline_spec.py). TypeScript reads the config's
 * keys, types, choices and defaults from it and checks every config it writes against it; they are
 * never restated here.
 */
import pipelineConfigSchema from "../jobs/pipeline-config.schema.json";
import { JsonSchema, schemaProblems } from "./json-schema";

/** The schema file as typed JSON (for reading its defaults). */
export const PIPELINE_CONFIG_SCHEMA_JSON = pipelineConfigSchema;
/** The schema, for checking. */
export const PIPELINE_CONFIG_SCHEMA: JsonSchema = pipelineConfigSchema;

/** A pipeline config file's content (checked against PIPELINE_CONFIG_SCHEMA). */
export type PipelineConfigJson = Readonly<Record<string, unknown>>;

/** What is wrong with a pipeline config under the jobs' schema (one line each; empty = valid). */
export function pipelineConfigProblems(config: PipelineConfigJson): string[] {
  return schemaProblems(PIPELINE_CONFIG_SCHEMA, config, "pipeline config");
}
