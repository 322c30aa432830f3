import { setTimeout as sleep } from "node:timers/promises";

/**
 * Poll `probe` until it returns a truthy value or `timeoutMs` passes. If `exited` settles first
 * (the daemon we are waiting for died), stop waiting and report why.
 * @template T
 * @param {() => Promise<T | undefined>} probe
 * @param {{ timeoutMs: number, intervalMs?: number, exited?: Promise<string> }} options
 * @returns {Promise<{ ready: true, value: T } | { ready: false, reason: string }>}
 */
export async function waitUntil(probe, options) {
  const deadline = Date.now() + options.timeoutMs;
  let died;
  options.exited?.then((reason) => {
    died = reason;
  });
  for (;;) {
    const value = await probe();
    if (value) return { ready: true, value };
    if (died) return { ready: false, reason: died };
    if (Date.now() >= deadline)
      return { ready: false, reason: `not ready after ${options.timeoutMs / 1000}s` };
    await sleep(options.intervalMs ?? 250);
  }
}
