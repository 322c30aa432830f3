// Run the command's main process (the platform, vitest, a benchmark) in the foreground and make
// Ctrl-C stop it exactly once.
import { spawn } from "node:child_process";
import { constants } from "node:os";

const FORWARDED = /** @type {const} */ (["SIGINT", "SIGTERM", "SIGHUP"]);
// Under `npm start`, one Ctrl-C reaches us twice: from the terminal and again from npm, which
// forwards the signals it gets. Copies this close together are one request to stop.
const DUPLICATE_WINDOW_MS = 1000;

/**
 * @param {string} command
 * @param {string[]} args
 * @param {{ cwd: string, env: NodeJS.ProcessEnv }} options
 * @returns {Promise<{ code: number, interruptedBy: NodeJS.Signals | undefined }>} the child's exit
 *   code (128+n when killed by signal n), and the signal that asked us to stop, if any
 */
export function runForeground(command, args, options) {
  // The child gets its own process group so the terminal's Ctrl-C reaches only us and the child
  // hears each stop request once, from us. Its stdin is closed because a background process
  // group reading the terminal would be stopped by SIGTTIN; stdout and stderr are the terminal's.
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ["ignore", "inherit", "inherit"],
    detached: true,
  });

  /** @type {NodeJS.Signals | undefined} */
  let interruptedBy;
  /** @type {Record<string, number>} */
  const lastForwarded = {};
  const forward = (/** @type {NodeJS.Signals} */ signal) => {
    interruptedBy ??= signal;
    const now = Date.now();
    if (now - (lastForwarded[signal] ?? 0) < DUPLICATE_WINDOW_MS) return;
    lastForwarded[signal] = now;
    child.kill(signal);
  };
  // If we die of an error of our own, do not leave the child running on its own.
  const killOnExit = () => child.kill("SIGTERM");
  for (const signal of FORWARDED) process.on(signal, forward);
  process.on("exit", killOnExit);

  return new Promise((resolve, reject) => {
    const cleanUp = () => {
      for (const signal of FORWARDED) process.off(signal, forward);
      process.off("exit", killOnExit);
    };
    child.once("error", (error) => {
      cleanUp();
      reject(error);
    });
    child.once("exit", (code, signal) => {
      cleanUp();
      resolve({ code: code ?? exitCodeOf(signal), interruptedBy });
    });
  });
}

/**
 * The shell's convention for "terminated by signal n".
 * @param {NodeJS.Signals | null} signal
 */
export function exitCodeOf(signal) {
  return 128 + (signal ? constants.signals[signal] : 0);
}
