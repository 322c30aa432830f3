import type { TenantStore } from "@kumo/db";

const FLUSH_MS = 200;
const TAIL_LINES = 20;

/**
 * A deployment's build log as it streams: lines go to listeners at once and to the stored log in
 * small batches (the follow=1 SSE polls the stored log), and the last lines are kept for errors.
 */
export class DeploymentLog {
  readonly #store: TenantStore;
  readonly #deploymentId: string;
  readonly #listener: ((line: string) => void) | undefined;
  readonly #tail: string[] = [];
  #pending: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(store: TenantStore, deploymentId: string, listener?: (line: string) => void) {
    this.#store = store;
    this.#deploymentId = deploymentId;
    this.#listener = listener;
  }

  line(text: string): void {
    this.#tail.push(text);
    if (this.#tail.length > TAIL_LINES) this.#tail.shift();
    this.#pending.push(text);
    try {
      this.#listener?.(text);
    } catch {
      // a listener that went away (a closed push connection) does not stop the build
    }
    this.#timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /** The last lines, for the error of a failed deployment. */
  tail(): string {
    return this.#tail.join("\n");
  }

  /** Writes what is pending; resolves when everything logged so far is stored. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const lines = this.#pending;
    this.#pending = [];
    if (lines.length > 0) {
      this.#writing = this.#writing
        .then(() => this.#store.deployments.appendLog(this.#deploymentId, `${lines.join("\n")}\n`))
        .catch(() => {});
    }
    return this.#writing;
  }
}
