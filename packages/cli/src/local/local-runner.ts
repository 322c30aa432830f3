import type { InvocationRequest, InvocationResult, Runtime } from "@kumo/core";
import { runtimeFamily } from "@kumo/core";
import { invalidLocalInput } from "../errors.ts";
import type { LocalFunction } from "./local-function.ts";

/** One invocation's outcome, its body read whole (local runs are for looking at). */
export type LocalResult = Omit<InvocationResult, "body"> & { body: Uint8Array };

/**
 * What runs one function on this machine for `kumo dev` and `kumo test`: edge functions in the
 * platform's isolate host, the others in their runtime's shim on the host's interpreter.
 */
export interface LocalRunner {
  /** What runs the code, for the banner: e.g. "edge isolate" or "node v20.20.2 (runtime shim)". */
  readonly label: string;
  /** Loads the function, or loads it again after a change: the next invocation runs fresh code. */
  load(fn: LocalFunction): Promise<void>;
  invoke(request: InvocationRequest): Promise<LocalResult>;
  close(): Promise<void>;
}

/** Where `kumo dev` cannot run a runtime, why, and what to do instead. */
const UNSUPPORTED: Partial<Record<Runtime, string>> = {
  go: "Go functions are compiled into an image by the builder; run `go test ./...` locally, or deploy and test through an alias that takes no traffic (`kumo alias set <name> preview vN`)",
  container:
    "container functions are your own image: run it with `docker run -e PORT=8080 -p 8787:8080 <image>`, or deploy and test through an alias that takes no traffic",
};

/** The runner for a function's runtime; a usage error (exit 2) for runtimes that cannot run locally. */
export async function createLocalRunner(
  fn: LocalFunction,
  env: Readonly<Record<string, string | undefined>>,
): Promise<LocalRunner> {
  const runtime = runtimeFamily(fn.config.runtime);
  const why = UNSUPPORTED[runtime];
  if (why !== undefined) throw invalidLocalInput(`runtime "${runtime}" does not run locally: ${why}`);
  if (runtime === "edge") {
    const { EdgeLocalRunner } = await import("./edge-local-runner.ts");
    return EdgeLocalRunner.start();
  }
  const { ShimLocalRunner } = await import("./shim-local-runner.ts");
  return ShimLocalRunner.forRuntime(runtime, env);
}

/** Reads a result's body whole. */
export async function readBody(body: InvocationResult["body"]): Promise<Uint8Array> {
  if (body instanceof Uint8Array) return body;
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}
