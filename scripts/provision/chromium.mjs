// Tests and benchmarks only: Debian's Chromium, which playwright-core drives headless for the
// console's browser tests and bench/console.bench.ts. `npm start` never needs it.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { aptInstall } from "./apt.mjs";
import { ok } from "./log.mjs";

const STEP = "chromium";
/** Where Debian's package puts it; the browser tests launch exactly this binary. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/**
 * Make sure /usr/bin/chromium exists: nothing to do when it does; else `apt-get install -y chromium`
 * (root only; otherwise the step fails saying what to install). Idempotent.
 * @param {import("./settings.mjs").Settings} settings
 * @returns {import("./summary.mjs").ServiceReport}
 */
export function ensureChromium(settings) {
  if (existsSync(CHROMIUM_PATH)) {
    ok(STEP, `${CHROMIUM_PATH} present`);
    return { name: STEP, address: CHROMIUM_PATH, state: "installed" };
  }
  aptInstall(STEP, ["chromium"], join(settings.dataDir, "apt.log"));
  ok(STEP, `installed Debian's chromium at ${CHROMIUM_PATH}`);
  return { name: STEP, address: CHROMIUM_PATH, state: "installed now" };
}
