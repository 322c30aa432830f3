// Tests and benchmarks only: Debian's HAProxy, the load balancer the cluster test and
// bench/cluster.bench.ts put in front of two gateways (with deploy/haproxy/haproxy.cfg). The test
// starts its own haproxy on a free loopback port; nothing here starts a daemon. `npm start` never needs it.
import { join } from "node:path";
import { aptInstall } from "./apt.mjs";
import { ok } from "./log.mjs";
import { capture, which } from "./proc.mjs";

const STEP = "haproxy";

/**
 * Make sure `haproxy` is on the PATH: install Debian's haproxy package (2.6 in bookworm) when it is
 * missing (root only; otherwise the step fails saying what to install). Idempotent.
 * @param {import("./settings.mjs").Settings} settings
 * @returns {import("./summary.mjs").ServiceReport}
 */
export function ensureHaproxy(settings) {
  if (which("haproxy")) {
    const version = (capture("haproxy", ["-v"]) ?? "").split("\n")[0]?.trim() || "haproxy";
    ok(STEP, `${version} installed`);
    return { name: STEP, address: "(started by its test)", state: "already installed" };
  }
  aptInstall(STEP, ["haproxy"], join(settings.dataDir, "apt.log"));
  ok(STEP, "installed Debian's haproxy");
  return { name: STEP, address: "(started by its test)", state: "installed" };
}
