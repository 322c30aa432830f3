import type { TenantStore } from "@kumo/db";

const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 200;

/**
 * Resolves once the invocation's record says succeeded or failed (failed: after the async path's
 * retries, i.e. dead-lettered). Polls the record, quickly at first: most runs of a database
 * trigger end within milliseconds, and the next change waits for this one. Rejects when aborted.
 */
export async function waitForOutcome(
  store: TenantStore,
  invocationId: string,
  signal: AbortSignal,
): Promise<void> {
  let delay = FIRST_POLL_MS;
  for (;;) {
    signal.throwIfAborted();
    const record = await store.invocations.get(invocationId);
    if (record && (record.status === "succeeded" || record.status === "failed")) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, delay);
      signal.addEventListener("abort", done, { once: true });
    });
    delay = Math.min(MAX_POLL_MS, delay * 2);
  }
}
