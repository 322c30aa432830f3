import { expect } from "vitest";
import type { CallResult, TestGateway } from "../support/test-gateway.ts";

/** Asserts the error envelope and returns the error. */
export function expectError(
  res: CallResult,
  status: number,
  code: string,
): { code: string; message: string; details?: unknown } {
  expect(res.status, `${res.status} ${res.body}`).toBe(status);
  expect(res.json?.error?.code, res.body).toBe(code);
  expect(typeof res.json.error.message).toBe("string");
  return res.json.error;
}

/** Creates an edge function (no deploy). */
export async function createFunction(t: TestGateway, key: string, name: string): Promise<void> {
  const res = await t.call("POST", "/v1/functions", { key, body: { name, runtime: "edge" } });
  expect(res.status, res.body).toBe(201);
}

/** Deploys module source and returns the version number. */
export async function deploy(t: TestGateway, key: string, name: string, source: string): Promise<number> {
  const res = await t.call("POST", `/v1/functions/${name}/deployments`, {
    key,
    body: { files: { "index.ts": source } },
  });
  expect(res.status, res.body).toBe(202);
  expect(res.json.status).toBe("succeeded");
  return res.json.version;
}

/** A function that answers `text`. */
export const answers = (text: string) =>
  `export default { fetch() { return new Response(${JSON.stringify(text)}) } }`;

/** A function that answers `text`, the path it saw and the route params header, as JSON. */
export const echoes = (text: string) => `export default { fetch(req) {
  const url = new URL(req.url);
  return Response.json({ v: ${JSON.stringify(text)}, path: url.pathname, query: url.search, params: req.headers.get("kumo-route-params") });
} }`;

/** A function that throws on roughly `percent` percent of requests (chosen by a counter, so exactly). */
export const failsPercent = (text: string, percent: number) => `let n = 0;
export default { fetch() {
  n++;
  // Spread failures evenly (3 in every 10 for 30%), so any window of requests sees about the same rate.
  if ((n * ${percent}) % 100 < ${percent}) throw new Error("boom");
  return new Response(${JSON.stringify(text)});
} }`;

export async function putAlias(
  t: TestGateway,
  key: string,
  name: string,
  alias: string,
  routing: { version: number; weight: number }[],
): Promise<CallResult> {
  return t.call("PUT", `/v1/functions/${name}/aliases/${alias}`, { key, body: { routing } });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
