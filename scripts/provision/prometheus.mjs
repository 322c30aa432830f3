// Tests only: Debian's Prometheus (prometheus and promtool), for the test that scrapes a running
// Kumo with the shipped deploy/prometheus configuration. The test starts its own instance on a
// free port; nothing here starts a daemon. `npm start` never needs it.
import { join } from "node:path";
import { aptInstall } from "./apt.mjs";
import { ok } from "./log.mjs";
import { which } from "./proc.mjs";

const STEP = "prometheus";

/**
 * Make sure `prometheus` and `promtool` are on the PATH: install Debian's prometheus package when
 * either is missing. Idempotent.
 * @param {import("./settings.mjs").Settings} settings
 * @returns {import("./summary.mjs").ServiceReport}
 */
export function ensurePrometheus(settings) {
  if (which("prometheus") && which("promtool")) {
    ok(STEP, "prometheus and promtool installed");
    return { name: STEP, address: "(started by its test)", state: "already installed" };
  }
  aptInstall(STEP, ["prometheus"], join(settings.dataDir, "apt.log"));
  ok(STEP, "installed Debian's prometheus (promtool included)");
  return { name: STEP, address: "(started by its test)", state: "installed" };
}
