import { createHash } from "node:crypto";
import {
  type DeployedVersion,
  type FunctionConfigInput,
  functionConfigSchema,
  type InvocationRequest,
  type InvocationResult,
} from "@kumo/core";
import { bundleEdgeFunction } from "./bundle-edge-function.ts";
import type { EdgeProvider } from "./edge-provider.ts";

/** Helpers shared by the edge tests and benchmarks: deploy-like targets and invocations. */

let seq = 0;

export interface TargetOptions {
  tenantId?: string;
  versionId?: string;
  functionName?: string;
  env?: Record<string, string>;
  config?: Partial<FunctionConfigInput>;
}

export async function edgeTarget(
  source: string | Record<string, string>,
  options: TargetOptions = {},
): Promise<DeployedVersion> {
  const files = typeof source === "string" ? { "index.ts": source } : source;
  const config = functionConfigSchema.parse({ runtime: "edge", ...options.config });
  const bundle = await bundleEdgeFunction(files, {
    ...(config.compatibility ? { compatibility: config.compatibility } : {}),
    ...(config.handlerShape ? { handlerShape: config.handlerShape } : {}),
  });
  const env = options.env ?? {};
  const n = ++seq;
  return {
    tenantId: options.tenantId ?? "ten_test",
    functionId: `fn_${n}`,
    functionName: options.functionName ?? `fn${n}`,
    versionId: options.versionId ?? `ver_${n}_${bundle.digest.slice(0, 8)}`,
    version: 1,
    runtime: "edge",
    config,
    sourceDigest: bundle.digest,
    artifact: bundle.digest,
    loadCode: async () => bundle.code,
    env,
    envDigest: createHash("sha256").update(JSON.stringify(env)).digest("hex").slice(0, 16),
  };
}

export interface Invoked {
  result: InvocationResult;
  status: number;
  text: string;
  header(name: string): string | undefined;
  json<T = unknown>(): T;
}

export async function invokeEdge(
  provider: EdgeProvider,
  target: DeployedVersion,
  init: Partial<Omit<InvocationRequest, "body">> & { body?: string | Uint8Array | null } = {},
): Promise<Invoked> {
  const body = typeof init.body === "string" ? new TextEncoder().encode(init.body) : (init.body ?? null);
  const result = await provider.invoke(target, {
    invocationId: init.invocationId ?? `inv_${++seq}`,
    trigger: init.trigger ?? "http",
    method: init.method ?? "GET",
    url: init.url ?? "/",
    headers: { host: "fn.test", ...init.headers },
    body,
    deadline: init.deadline ?? Date.now() + 30_000,
  });
  const bytes = result.body instanceof Uint8Array ? result.body : new Uint8Array(0);
  const text = new TextDecoder().decode(bytes);
  return {
    result,
    status: result.status,
    text,
    header: (name) => result.headers.find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1],
    json: <T>() => JSON.parse(text) as T,
  };
}

/** The function every hostile test checks afterwards: the platform must still answer normally. */
export const HEALTHY_SOURCE = `export default { fetch() { return new Response("still serving"); } };`;
