// apt-get, used only when a needed daemon is missing and we are root (Debian 12 is the target).

import { act } from "./log.mjs";
import { isRoot, runLogged, tail, which } from "./proc.mjs";
import { ProvisionError } from "./provision-error.mjs";

// A fresh machine's package lists may be empty; refresh them once per run, and only when we
// actually install something, since `apt-get update` is slow and touches the network.
let updated = false;

/**
 * Install Debian packages non-interactively, logging apt's output to `logFile`.
 * @param {string} step the status line this install belongs to
 * @param {string[]} packages
 * @param {string} logFile
 */
export function aptInstall(step, packages, logFile) {
  if (!isRoot()) {
    throw new ProvisionError(
      step,
      `${packages.join(" ")} is not installed`,
      `install it: sudo apt-get install -y ${packages.join(" ")}`,
    );
  }
  if (!which("apt-get")) {
    throw new ProvisionError(
      step,
      `${packages.join(" ")} is not installed and apt-get is not available`,
      "install it with your distribution's package manager",
    );
  }
  // Another apt run (unattended-upgrades) may hold the lock for a while: wait instead of failing.
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const lockWait = ["-o", "DPkg::Lock::Timeout=300"];
  if (!updated) {
    act(step, `apt-get update (log: ${logFile})`);
    if (runLogged("apt-get", [...lockWait, "update"], { logFile, env }) !== 0) {
      throw new ProvisionError(step, "apt-get update failed", tail(logFile));
    }
    updated = true;
  }
  act(step, `apt-get install -y ${packages.join(" ")} (log: ${logFile})`);
  // With recommends, as the setup verified on these machines was (docker.io pulls cgroupfs-mount).
  if (runLogged("apt-get", [...lockWait, "install", "-y", ...packages], { logFile, env }) !== 0) {
    throw new ProvisionError(step, `apt-get install ${packages.join(" ")} failed`, tail(logFile));
  }
}
