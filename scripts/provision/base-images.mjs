// Step 5: the functions' base images, built by scripts/images.mjs when that script exists.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { act, ok, skip, warn } from "./log.mjs";
import { ProvisionError } from "./provision-error.mjs";

const STEP = "images";

/**
 * @param {import("./settings.mjs").Settings} settings
 * @param {NodeJS.ProcessEnv} env the same environment the command's main process gets
 * @param {{ dockerAvailable: boolean, required: boolean }} options
 */
export function buildBaseImages(settings, env, options) {
  const script = join(settings.repoRoot, "scripts", "images.mjs");
  if (!existsSync(script)) return;
  if (!options.dockerAvailable) {
    skip(STEP, "no Docker engine: base images not built");
    return;
  }
  act(STEP, "node scripts/images.mjs");
  const result = spawnSync(process.execPath, [script], {
    cwd: settings.repoRoot,
    env,
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (result.status === 0) {
    ok(STEP, "base images ready");
    return;
  }
  const why = result.error ? result.error.message : `exited with ${result.status ?? result.signal}`;
  if (options.required) throw new ProvisionError(STEP, `scripts/images.mjs ${why}`, "see its output above");
  warn(STEP, `scripts/images.mjs ${why}: container functions may fail to build`);
}
