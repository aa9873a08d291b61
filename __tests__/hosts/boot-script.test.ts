import * as fs from "fs";
import * as path from "path";
import { FLEET } from "../../constructs/fleet-versions";
import { EXAMPLE_MLFLOW, exampleAirflow } from "../fixtures/host-examples";
import {
  BOOT_PROGRAM,
  BOOT_SETTINGS,
  BootSettings,
  RenderedHost,
  renderAirflowHost,
  renderMlflowHost,
} from "../../cloud-init/host-render";
import { UNITS_DIR } from "../../cloud-init/host-templates";
import { run, tempDir } from "./tools";

/**
 * The renderer's side of the first-boot program's contract: the program's own behaviour is
 * tested in pytest (jobs/tests/test_first_boot.py); here, that the rendered files are what the
 * program reads: its layout names the host's own files, and it parses the rendered host.env.
 */
const HOSTS: RenderedHost[] = [renderMlflowHost(EXAMPLE_MLFLOW), renderAirflowHost(exampleAirflow())];
const PROGRAM = path.join(UNITS_DIR, "first-boot/first_boot.py");

const file = (host: RenderedHost, p: string): string => {
  const f = host.spec.files.find((x) => x.path === p);
  if (!f) throw new Error(`${host.name} writes no ${p}`);
  return f.content;
};

describe.each(HOSTS.map((h) => [h.name, h] as const))("%s VM first boot", (name, host) => {
  const settings: BootSettings = JSON.parse(file(host, BOOT_SETTINGS));

  it("runs the repository's program once, for this host, with no shell in between", () => {
    expect(host.spec.commands).toEqual([["python3", BOOT_PROGRAM, name]]);
    expect(file(host, BOOT_PROGRAM)).toBe(fs.readFileSync(PROGRAM, "utf8"));
    expect(settings.host).toBe(name);
  });

  it("gives the program a layout of the files this host is rendered with", () => {
    const paths = host.spec.files.map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining([settings.lock, settings.baseEnv, settings.nginxSiteStaged, settings.nginxDropinStaged]));
    expect(paths).toContain(`${settings.libDir}/ycm-lockbox`);
    expect(paths).toContain(`${settings.confDir}/host.env`);
    expect(host.units).toEqual(expect.arrayContaining([...settings.units]));
    for (const u of settings.units) expect(paths).toContain(`/etc/systemd/system/${u}`);
    expect(settings.lockPython).toBe(FLEET.python);
    expect(settings.envFile).toBe(`${settings.confDir}/${name}.env`);
    expect(settings.user).toBe(name);
  });

  it("reads the rendered host.env with the program's parser (the endpoints it logs are the cloud's)", () => {
    const dir = tempDir("boot");
    fs.writeFileSync(path.join(dir, "host.env"), file(host, `${settings.confDir}/host.env`));
    const r = run("python3", ["-c", [
      "import sys; from pathlib import Path",
      `sys.path.insert(0, ${JSON.stringify(path.dirname(PROGRAM))})`,
      "import first_boot",
      `values = first_boot.load_settings(Path(${JSON.stringify(dir)}))`,
      "print('users', first_boot.web_users(values))",
    ].join("\n")]);
    expect(r.status).toBe(0);
    expect(r.output).toContain("yc-mlops-boot: endpoint YC_METADATA_URL=http://169.254.169.254\n");
    expect(r.output).toContain("yc-mlops-boot: endpoint YC_PG_PORT=6432\n");
    expect(r.output).toMatch(/users \[\('admin', '[^']+:[^']+'\)/);
  });
});
