/**
 * A JSON Schema checker for the subset of keywords jobs/pipeline_schema.py generates (the pipeline
 * config's contract). Small on purpose: no validator library is in the lock, and synth must not
 * need one. A keyword outside the subset is an error, so the generator cannot start relying on a
 * rule this checker would silently skip.
 */

export interface JsonSchema {
  readonly type?: string | readonly string[];
  readonly enum?: readonly unknown[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | JsonSchema;
  readonly items?: JsonSchema;
  readonly minItems?: number;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
  readonly maxProperties?: number;
  readonly anyOf?: readonly JsonSchema[];
}

// keywords that state no rule (annotations)
const ANNOTATIONS = new Set(["$schema", "$comment", "title", "description", "default"]);
const RULES = new Set(["type", "enum", "properties", "required", "additionalProperties", "items", "minItems", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "maxProperties", "anyOf"]);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function hasType(v: unknown, type: string): boolean {
  switch (type) {
    case "string": return typeof v === "string";
    case "boolean": return typeof v === "boolean";
    case "integer": return typeof v === "number" && Number.isInteger(v);
    case "number": return typeof v === "number" && Number.isFinite(v);
    case "array": return Array.isArray(v);
    case "object": return isObject(v);
    case "null": return v === null;
    default: throw new Error(`JSON Schema type ${JSON.stringify(type)} is outside the supported subset`);
  }
}

/**
 * What is wrong with `value` under `schema`: one line per problem, each naming the key path
 * (`where.key[2]`) and the bad value. Empty when the value matches.
 */
export function schemaProblems(schema: JsonSchema, value: unknown, where: string): string[] {
  for (const k of Object.keys(schema)) {
    if (!RULES.has(k) && !ANNOTATIONS.has(k)) throw new Error(`JSON Schema keyword ${JSON.stringify(k)} (at ${where}) is outside the supported subset`);
  }
  const shown = JSON.stringify(value);
  if (schema.anyOf) {
    const tries = schema.anyOf.map((s) => schemaProblems(s, value, where));
    if (tries.some((p) => p.length === 0)) return [];
    // the branch it came closest to says best what is wrong (on a tie the later, more specific one)
    return tries.reduce((a, b) => (b.length <= a.length ? b : a));
  }
  if (schema.type !== undefined) {
    const types = typeof schema.type === "string" ? [schema.type] : schema.type;
    if (!types.some((t) => hasType(value, t))) return [`${where}: expected ${types.join(" or ")}, got ${shown}`];
  }
  const out: string[] = [];
  if (schema.enum && !schema.enum.some((e) => e === value)) {
    out.push(`${where}: ${shown} is not one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}`);
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) out.push(`${where}: ${shown} is below the minimum ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) out.push(`${where}: ${shown} is above the maximum ${schema.maximum}`);
    if (schema.exclusiveMinimum !== undefined && !(value > schema.exclusiveMinimum)) {
      out.push(`${where}: ${shown} must be above ${schema.exclusiveMinimum}`);
    }
    if (schema.exclusiveMaximum !== undefined && !(value < schema.exclusiveMaximum)) {
      out.push(`${where}: ${shown} must be below ${schema.exclusiveMaximum}`);
    }
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) out.push(`${where}: expected at least ${schema.minItems} item(s), got ${shown}`);
    if (schema.items) value.forEach((v, i) => out.push(...schemaProblems(schema.items!, v, `${where}[${i}]`)));
  }
  if (isObject(value)) {
    const keys = Object.keys(value);
    if (schema.maxProperties !== undefined && keys.length > schema.maxProperties) {
      out.push(`${where}: expected at most ${schema.maxProperties} key(s), got ${keys.length}`);
    }
    for (const r of schema.required ?? []) if (!(r in value)) out.push(`${where}: missing key "${r}"`);
    for (const k of keys) {
      // own keys only: a config key "constructor" must not find Object.prototype's
      const sub = schema.properties && Object.hasOwn(schema.properties, k) ? schema.properties[k] : schema.additionalProperties;
      if (sub === false) out.push(`${where}: unknown key "${k}"`);
      else if (sub !== undefined && sub !== true) out.push(...schemaProblems(sub, value[k], `${where}.${k}`));
    }
  }
  return out;
}
