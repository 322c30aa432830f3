import { Readable } from "node:stream";
import { type CliIo, runCli } from "@kumo/cli";

export interface KumoRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  stdin?: string;
  now?: number;
  /** Replaces the network (e.g. with fastify's inject). */
  fetch?: typeof fetch;
}

function capture(): { stream: CliIo["stdout"]; text: () => string } {
  const chunks: Buffer[] = [];
  return {
    stream: { write: (chunk: string | Uint8Array) => chunks.push(Buffer.from(chunk)), isTTY: false },
    text: () => Buffer.concat(chunks).toString("utf8"),
  };
}

/** Runs the CLI in-process, as `kumo <argv>` would, with captured stdout/stderr and a fake stdin. */
export async function runKumo(argv: string[], options: RunOptions = {}): Promise<KumoRun> {
  const stdout = capture();
  const stderr = capture();
  const stdin = Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]);
  const code = await runCli(argv, {
    stdout: stdout.stream,
    stderr: stderr.stream,
    stdin,
    env: { HOME: "/nonexistent", ...options.env },
    cwd: options.cwd ?? process.cwd(),
    fetch: options.fetch ?? globalThis.fetch,
    signal: new AbortController().signal,
    now: () => options.now ?? Date.parse("2025-01-01T12:00:00Z"),
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}
