// Process helpers shared by the provisioning steps: finding binaries, running a command with its
// output sent to a log file, and starting a daemon that outlives `npm start` / `npm test`.
import { spawn, spawnSync } from "node:child_process";
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";

// Daemons live in sbin, which a non-root PATH (and some CI PATHs) leaves out.
const EXTRA_BIN_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/** @returns {boolean} whether this process may install packages and start system daemons. */
export function isRoot() {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

/**
 * Absolute path of an executable found on PATH or in the usual system bin directories.
 * @param {string} name
 * @returns {string | undefined}
 */
export function which(name) {
  const dirs = [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), ...EXTRA_BIN_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

/**
 * Run a command to completion with stdout and stderr appended to `logFile`, so tools as chatty
 * as apt-get don't drown the one-line-per-step output. Returns the exit status (null if killed).
 * @param {string} command
 * @param {string[]} args
 * @param {{ logFile: string, env?: NodeJS.ProcessEnv, timeoutMs?: number }} options
 */
export function runLogged(command, args, options) {
  const fd = openSync(options.logFile, "a");
  try {
    const result = spawnSync(command, args, {
      stdio: ["ignore", fd, fd],
      env: options.env ?? process.env,
      timeout: options.timeoutMs,
    });
    if (result.error) throw result.error;
    return result.status;
  } finally {
    closeSync(fd);
  }
}

/**
 * Run a command quietly and return its trimmed stdout, or undefined when it fails.
 * @param {string} command
 * @param {string[]} args
 * @param {{ timeoutMs?: number }} [options]
 */
export function capture(command, args, options = {}) {
  const result = spawnSync(command, args, {
    stdio: ["ignore", "pipe", "pipe"],
    encoding: "utf8",
    timeout: options.timeoutMs ?? 20_000,
  });
  if (result.error || result.status !== 0) return undefined;
  return result.stdout.trim();
}

/**
 * Start a long-running daemon that must survive the npm command that started it: its own
 * process group (so the terminal's Ctrl-C does not reach it), output to a log file rather than
 * our pipes (which close when we exit), and unref'd so it does not keep this process alive.
 * The returned `exited` promise settles if the daemon dies while we still wait for it, so a
 * startup failure is reported at once instead of after the readiness timeout.
 * @param {string} command
 * @param {string[]} args
 * @param {{ logFile: string, env?: NodeJS.ProcessEnv }} options
 */
export function spawnDetached(command, args, options) {
  const fd = openSync(options.logFile, "a");
  const child = spawn(command, args, {
    detached: true,
    stdio: ["ignore", fd, fd],
    env: options.env ?? process.env,
  });
  closeSync(fd);
  /** @type {Promise<string>} */
  const exited = new Promise((resolve) => {
    child.once("error", (error) => resolve(`could not start: ${error.message}`));
    child.once("exit", (code, signal) =>
      resolve(signal ? `was killed by ${signal}` : `exited with code ${code}`),
    );
  });
  child.unref();
  return { pid: child.pid, exited };
}

/**
 * The last lines of a log file, for error messages.
 * @param {string} file
 * @param {number} [count]
 */
export function tail(file, count = 15) {
  if (!existsSync(file)) return "";
  const lines = readFileSync(file, "utf8").trimEnd().split("\n");
  return lines.slice(-count).join("\n");
}

/**
 * Whether a process id belongs to a live process (used to tell stale pid files from live ones).
 * @param {number} pid
 */
export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return /** @type {NodeJS.ErrnoException} */ (error).code === "EPERM";
  }
}
