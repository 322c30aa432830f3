import type { InvocationResult, TriggerKind } from "@kumo/core";
import { createEdgeProvider, type EdgeProvider } from "@kumo/edge";
import { edgeTarget, invokeEdge } from "../../runtimes/edge/src/edge-test-kit.ts";
import type { LogLine, RunningFunction, ShimRequest, ShimResponse } from "./runtime-harness.ts";

/**
 * Runs the cross-runtime suite's functions in edge isolates through a real edge provider (isolate
 * host processes), spoken to with the suite's shim-protocol requests: `ANY /invoke/<path>` becomes
 * one invocation. What the runtime shims carry in headers the provider takes as fields
 * (kumo-invocation-id, kumo-deadline-ms, kumo-event-type as the trigger); a failure's
 * `{ code, message, details }` is answered as the shims answer theirs (`kumo-error` header, body
 * `{ code, message, stack }`), and the result's log lines are kept per invocation id.
 */
export class EdgeHarness {
  #provider: EdgeProvider | undefined;

  async start(files: Record<string, string>, env: Record<string, string> = {}): Promise<EdgeFunction> {
    this.#provider ??= await createEdgeProvider({ hosts: 1 });
    const provider = this.#provider;
    const target = await edgeTarget(files, { env });
    const logs: LogLine[] = [];
    return {
      async request(req) {
        const invocationId = headerOf(req, "kumo-invocation-id") ?? `inv-edge-${++seq}`;
        const eventType = headerOf(req, "kumo-event-type");
        const invoked = await invokeEdge(provider, target, {
          invocationId,
          trigger: eventType === undefined ? "http" : triggerOf(eventType),
          method: req.method ?? "GET",
          url: invokePath(req.path),
          headers: requestHeaders(req),
          body: req.body === undefined ? null : new Uint8Array(Buffer.from(req.body)),
          deadline: Number(headerOf(req, "kumo-deadline-ms")) || Date.now() + 30_000,
        });
        for (const line of invoked.result.logs) logs.push({ ...line, invocationId });
        return shimResponse(invoked.result);
      },
      logs: async () => logs.slice(),
    };
  }

  async cleanup(): Promise<void> {
    await this.#provider?.stop();
  }
}

/** The part of a RunningFunction the suite uses. */
export type EdgeFunction = Pick<RunningFunction, "request" | "logs">;

let seq = 0;

const TRIGGERS: readonly TriggerKind[] = ["api", "async", "cron", "queue", "database", "event"];

function triggerOf(eventType: string): TriggerKind {
  return TRIGGERS.find((t) => t === eventType) ?? "event";
}

/** The shim's /invoke prefix off: "/invoke/items?a=1" -> "/items?a=1". */
function invokePath(path: string): string {
  if (path !== "/invoke" && !path.startsWith("/invoke/") && !path.startsWith("/invoke?")) {
    throw new Error(`edge functions have no shim route ${path}: only /invoke/... applies`);
  }
  const rest = path.slice("/invoke".length);
  return rest.startsWith("/") ? rest : `/${rest}`;
}

function headerOf(req: ShimRequest, name: string): string | undefined {
  const value = Object.entries(req.headers ?? {}).find(([k]) => k.toLowerCase() === name)?.[1];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Headers as the gateway hands them to a provider: lower-case names, a repeated header joined as
 * node's HTTP server joins it (", ", and "; " for cookie).
 */
function requestHeaders(req: ShimRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [rawName, value] of Object.entries(req.headers ?? {})) {
    const name = rawName.toLowerCase();
    const joined = Array.isArray(value) ? value.join(name === "cookie" ? "; " : ", ") : value;
    out[name] = out[name] === undefined ? joined : `${out[name]}${name === "cookie" ? "; " : ", "}${joined}`;
  }
  return out;
}

/** The result as node's HTTP client shows a shim's response: set-cookie a list, repeats joined. */
function shimResponse(result: InvocationResult): ShimResponse {
  const headers: Record<string, string | string[]> = {};
  for (const [rawName, value] of result.headers) {
    const name = rawName.toLowerCase();
    const prev = headers[name];
    if (name === "set-cookie") headers[name] = [...(Array.isArray(prev) ? prev : []), value];
    else headers[name] = prev === undefined ? value : `${prev}, ${value}`;
  }
  let body = Buffer.from(result.body instanceof Uint8Array ? result.body : new Uint8Array(0));
  if (result.error) {
    const details = (result.error.details ?? {}) as { name?: string; stack?: string; nextPath?: string };
    // The isolate host prefixes the error's name ("TypeError: ..."); the shims send the message.
    const prefix = details.name ? `${details.name}: ` : "";
    const message = result.error.message.startsWith(prefix)
      ? result.error.message.slice(prefix.length)
      : result.error.message;
    headers["kumo-error"] = result.error.code;
    headers["content-type"] = "application/json";
    // A workflow step's error branch travels in the details (the shims put it in the body).
    const nextPath = details.nextPath === undefined ? {} : { nextPath: details.nextPath };
    body = Buffer.from(
      JSON.stringify({ code: result.error.code, message, stack: details.stack ?? "", ...nextPath }),
    );
  }
  return {
    status: result.status,
    headers,
    body,
    json: () => JSON.parse(body.toString("utf8")) as unknown,
  };
}
