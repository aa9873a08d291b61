/**
 * No password in the Terraform state: what the synthesized stack could carry into state, checked
 * against the provider's own schema (schema/yandex-0.222.0.json). A resource's arguments are stored
 * in state as given (sensitive ones too: "sensitive" only hides them from the CLI), and so is every
 * attribute a data source reads. So: no resource is given a secret value, no data source reads one,
 * and no output repeats a value the provider marks sensitive.
 */
import * as fs from "fs";
import * as path from "path";
import { deployableConfig, REPO_ROOT, synthStack, TerraformJson } from "./fixtures";

interface Attr {
  type?: unknown;
  sensitive?: boolean;
  computed?: boolean;
  optional?: boolean;
  write_only?: boolean;
}
interface Block {
  attributes?: Record<string, Attr & { nested_type?: { attributes: Record<string, Attr> } }>;
  block_types?: Record<string, { block: Block }>;
}

const schemaFile = path.join(REPO_ROOT, "schema", "yandex-0.222.0.json");
const provider: any = Object.values(JSON.parse(fs.readFileSync(schemaFile, "utf8")).provider_schemas)[0];
const SECRET_NAME = /^(password|password_wo|secret_key|private_key|text_value|token|raw|value|admin_password)$/;

/** Every attribute path of a schema block whose name looks like it holds a secret, or that is sensitive. */
function secretPaths(block: Block, prefix = ""): { path: string; attr: Attr }[] {
  const out: { path: string; attr: Attr }[] = [];
  for (const [name, attr] of Object.entries(block.attributes ?? {})) {
    const p = prefix ? `${prefix}.${name}` : name;
    if (attr.nested_type) {
      out.push(...secretPaths({ attributes: attr.nested_type.attributes } as Block, p));
    } else if (attr.sensitive || (SECRET_NAME.test(name) && attr.type === "string")) {
      out.push({ path: p, attr });
    }
  }
  for (const [name, bt] of Object.entries(block.block_types ?? {})) out.push(...secretPaths(bt.block, prefix ? `${prefix}.${name}` : name));
  return out;
}

/** The value at a dotted path of a synthesized resource (blocks may be lists). */
function valuesAt(obj: unknown, dotted: string): unknown[] {
  let current: unknown[] = [obj];
  for (const part of dotted.split(".")) {
    current = current
      .flatMap((v) => (Array.isArray(v) ? v : [v]))
      .filter((v): v is Record<string, unknown> => v !== null && typeof v === "object")
      .map((v) => v[part])
      .filter((v) => v !== undefined);
  }
  return current;
}

function stacks(): TerraformJson[] {
  return [synthStack().json, synthStack(deployableConfig({ dataproc: { computeMaxHostsCount: 0 } })).json];
}

describe("no password in the Terraform state", () => {
  it.each(stacks().map((j, i) => [i, j] as const))("stack %i: no resource is given a secret value", (_i, json) => {
    const given: string[] = [];
    for (const [type, resources] of Object.entries(json.resource)) {
      const schema: Block = provider.resource_schemas[type]?.block;
      if (!schema) continue;
      for (const { path: p, attr } of secretPaths(schema)) {
        if (attr.write_only) continue; // never stored
        for (const [name, r] of Object.entries(resources)) {
          for (const v of valuesAt(r, p)) given.push(`${type}.${name}.${p} = ${JSON.stringify(v)}`);
        }
      }
    }
    expect(given).toEqual([]);
  });

  it("reads no secret through a data source: only the image and the PostgreSQL users' connections", () => {
    const { json } = synthStack();
    expect(Object.keys(json.data ?? {}).sort()).toEqual(["yandex_compute_image", "yandex_connectionmanager_connection"]);
    // the connection's only secret-like attributes are the `raw` passwords, which the provider marks
    // sensitive and which stay empty: the users' passwords are generated (generate_password), so the
    // connections hold a Lockbox reference instead of a value
    const connection: Block = provider.data_source_schemas.yandex_connectionmanager_connection.block;
    const secretish = secretPaths(connection);
    expect(secretish.length).toBeGreaterThan(0);
    for (const { path: p, attr } of secretish) {
      expect({ p, sensitive: attr.sensitive === true }).toEqual({ p, sensitive: true });
      expect(p).toMatch(/\.password\.raw$/);
    }
    for (const u of Object.values<any>(json.resource.yandex_mdb_postgresql_user)) expect(u.generate_password).toBe(true);
    expect(provider.data_source_schemas.yandex_compute_image).toBeDefined();
    expect(secretPaths(provider.data_source_schemas.yandex_compute_image.block)).toEqual([]);
  });

  it("has no output that repeats a value the provider marks sensitive", () => {
    const { json } = synthStack();
    const refs = JSON.stringify(json.output).match(/\$\{(data\.)?[a-z0-9_]+\.[^.}]+\.[a-z0-9_.[\]]+\}/g) ?? [];
    expect(refs.length).toBeGreaterThan(0);
    for (const r of refs) {
      const m = /^\$\{(data\.)?([a-z0-9_]+)\.[^.}]+\.([a-z0-9_]+)/.exec(r)!;
      const schema = (m[1] ? provider.data_source_schemas : provider.resource_schemas)[m[2]].block as Block;
      const attr = schema.attributes?.[m[3]] ?? {};
      expect({ r, sensitive: attr.sensitive === true }).toEqual({ r, sensitive: false });
    }
  });
});
