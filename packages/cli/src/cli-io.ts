import type { Readable } from "node:stream";

/** Where the CLI writes: process.stdout/stderr, or a capture in tests. */
export interface OutputStream {
  write(chunk: string | Uint8Array): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** Where the CLI reads: process.stdin, or a fake in tests. */
export type InputStream = Readable & {
  readonly isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
};

/**
 * Everything the CLI touches in the outside world, passed in so that commands run the same in
 * tests as in a terminal.
 */
export interface CliIo {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly stdin: InputStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly fetch: typeof fetch;
  /** Aborted on Ctrl-C: follow modes end cleanly, other requests are cancelled. */
  readonly signal: AbortSignal;
  /** Current time in ms; injectable so relative times are testable. */
  readonly now: () => number;
}
