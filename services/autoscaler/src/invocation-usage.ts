import { headers as H } from "@kumo/bus";
import type { InvocationUsage } from "@kumo/core";

/** Larger figures are not believed (the header passes through a function's own server in custom images). */
const MAX_CPU_MS = 86_400_000;
const MAX_BYTES = 2 ** 50;

/**
 * Takes the shim's usage header (`kumo-usage: cpu=<ms>;rss=<bytes>`, see
 * runtimes/shared/invocation-usage.mjs) out of a response's headers, which never pass it on, and
 * reads it; undefined when the runtime did not send one (Python, Go, custom images, Deno).
 */
export function takeUsage(headers: [string, string][]): InvocationUsage | undefined {
  const at = headers.findIndex(([name]) => name === H.usage);
  if (at < 0) return undefined;
  const value = (headers[at] as [string, string])[1];
  headers.splice(at, 1);
  const usage: InvocationUsage = {};
  for (const part of value.split(";")) {
    const [key, raw] = part.split("=", 2);
    const n = Number(raw);
    if (raw === undefined || raw === "" || !Number.isFinite(n) || n < 0) continue;
    if (key === "cpu" && n <= MAX_CPU_MS) usage.cpuMs = n;
    else if (key === "rss" && n <= MAX_BYTES) usage.memoryBytes = n;
  }
  return usage.cpuMs === undefined && usage.memoryBytes === undefined ? undefined : usage;
}
