import { ok } from "./log.mjs";

/**
 * @typedef {object} ServiceReport
 * @property {string} name
 * @property {string} address   where clients reach it
 * @property {string} state     "already running", "started (pid 123)", ...
 * @property {string} [logFile] for daemons this run started
 */

/**
 * The closing lines of provisioning: where everything is, so the operator need not scroll up.
 * @param {import("./settings.mjs").Settings} settings
 * @param {ServiceReport[]} reports
 * @param {number} startedAt Date.now() at the start of provisioning
 */
export function printSummary(settings, reports, startedAt) {
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  ok("setup", `provisioned in ${seconds}s; data and logs in ${settings.dataDir}`);
  const width = Math.max(...reports.map((report) => report.address.length));
  for (const report of reports) {
    const log = report.logFile ? ` (log: ${report.logFile})` : "";
    process.stdout.write(
      `kumo:             ${report.name.padEnd(9)} ${report.address.padEnd(width)}  ${report.state}${log}\n`,
    );
  }
}
