/**
 * Writes each VM's rendered user-data and every file it installs into a folder, for the boot test
 * and the static checks:
 *   OUT/<host>/user-data           the #cloud-config, exactly as the stack renders it
 *   OUT/<host>/rootfs/<path>       every file the user-data writes (units, nginx site, scripts, ...)
 *   OUT/<host>/units.txt           our systemd units, one per line, in start order
 *   OUT/<host>/lockbox-refs.json   the Lockbox secret ids/entry keys the VM reads (no values)
 * and the same for each VM's day-two spec (EXAMPLE_DAY_TWO) as OUT/<host>-v2/.
 * Inputs: the example parameters of __tests__/fixtures/host-examples.ts (placeholder ids).
 * Usage: npx ts-node scripts/test/render-user-data.ts OUT_DIR
 */
import * as fs from "fs";
import * as path from "path";
import { EXAMPLE_DAY_TWO, EXAMPLE_MLFLOW, exampleAirflow } from "../../__tests__/fixtures/host-examples";
import { RenderedHost, renderAirflowHost, renderMlflowHost } from "../../cloud-init/host-render";

function lockboxRefs(host: RenderedHost): Record<string, string[]> {
  const hostEnv = host.spec.files.find((f) => f.path === "/etc/yc-mlops/host.env");
  const refs: Record<string, string[]> = {};
  // only the variables that hold Lockbox references (`LOCKBOX_*='id:key'`, `WEB_USERS='user=id:key ...'`);
  // other host:port values (YC_API_ENDPOINT) are not refs.
  const refLines = (hostEnv?.content ?? "").split("\n").filter((l) => /^(LOCKBOX_[A-Z0-9_]+|WEB_USERS)=/.test(l));
  for (const m of refLines.join("\n").matchAll(/([A-Za-z0-9_.-]+):([A-Za-z0-9_.-]+)(?=['\s])/g)) {
    (refs[m[1]] ??= []).includes(m[2]) || refs[m[1]].push(m[2]);
  }
  return refs;
}

/** Writes each host into OUT/<host name><suffix>/. */
export function writeRendered(outDir: string, hosts: RenderedHost[], suffix = ""): void {
  for (const host of hosts) {
    const dir = path.join(outDir, `${host.name}${suffix}`);
    // replace the host's folder as a whole: no stale file from an earlier render survives
    const tmp = `${dir}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    fs.writeFileSync(path.join(tmp, "user-data"), host.userData);
    fs.writeFileSync(path.join(tmp, "units.txt"), host.units.join("\n") + "\n");
    fs.writeFileSync(path.join(tmp, "lockbox-refs.json"), JSON.stringify(lockboxRefs(host), null, 2) + "\n");
    for (const f of host.spec.files) {
      const target = path.join(tmp, "rootfs", f.path);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, f.content, { mode: parseInt(f.permissions ?? "0644", 8) });
    }
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
  }
}

if (require.main === module) {
  const out = process.argv[2];
  if (!out) {
    console.error("usage: render-user-data.ts OUT_DIR");
    process.exit(2);
  }
  const hosts = [renderMlflowHost(EXAMPLE_MLFLOW), renderAirflowHost(exampleAirflow())];
  const dayTwo = [renderMlflowHost(EXAMPLE_DAY_TWO.mlflow()), renderAirflowHost(EXAMPLE_DAY_TWO.airflow())];
  writeRendered(out, hosts);
  writeRendered(out, dayTwo, "-v2");
  for (const [suffix, list] of [["", hosts], ["-v2", dayTwo]] as const) {
    for (const h of list) console.log(`${path.join(out, h.name + suffix)}: user-data ${h.userData.length} bytes, units ${h.units.join(" ")}`);
  }
}
