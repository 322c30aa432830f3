import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";
import { createEdgeFunction, snapshotTables } from "./api-helpers.ts";
import { registeredRoutes } from "./route-list.ts";

/**
 * Issue 10.7: PostgreSQL cannot store U+0000, and a NUL in a path parameter, an env value, a
 * handler name, a key name or a route host was a platform 500. Every path parameter of every
 * route, and every string field of every management body the OpenAPI document publishes, gets
 * 400 FN_006 naming the field, and changes nothing. Other control characters are never a 500.
 */

const NUL = "a\u0000b";
const CONTROLS = ["\u0001", "\u0007", "\u001b[31m", "\u007f", "\r\n", "\u2028"];

interface OpenApiSchema {
  type?: string | string[];
  properties?: Record<string, OpenApiSchema>;
  additionalProperties?: OpenApiSchema | boolean;
  items?: OpenApiSchema;
  anyOf?: OpenApiSchema[];
  oneOf?: OpenApiSchema[];
}

interface Operation {
  method: string;
  path: string;
  body: OpenApiSchema | undefined;
}

/** Paths of every string a body schema names (objects and arrays walked, one level of unions). */
function stringFields(schema: OpenApiSchema | undefined, prefix: string[] = [], depth = 0): string[][] {
  if (!schema || depth > 4) return [];
  const variants = [...(schema.anyOf ?? []), ...(schema.oneOf ?? [])];
  if (variants.length > 0) return variants.flatMap((v) => stringFields(v, prefix, depth + 1));
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types.includes("string")) return [prefix];
  const out: string[][] = [];
  for (const [name, child] of Object.entries(schema.properties ?? {}))
    out.push(...stringFields(child, [...prefix, name], depth + 1));
  if (schema.items) out.push(...stringFields(schema.items, [...prefix, "0"], depth + 1));
  if (typeof schema.additionalProperties === "object")
    out.push(...stringFields(schema.additionalProperties, [...prefix, "K"], depth + 1));
  return out;
}

/** A body whose only content is `value` at `path` (arrays as arrays, objects as objects). */
function bodyWith(path: string[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path as [string, ...string[]];
  const inner = bodyWith(rest, value);
  return /^\d+$/.test(head) ? [inner] : { [head]: inner };
}

describe("NUL and control characters in API input", () => {
  let t: TestGateway;
  let tenant: { name: string; id: string; key: string };
  let operations: Operation[];
  /** kumo.json's schema: the API publishes `config` as an open object and validates it with this. */
  let configSchema: OpenApiSchema;

  beforeAll(async () => {
    t = await startTestGateway({ edge: true });
    tenant = await t.tenant();
    await createEdgeFunction(t, tenant.key, "target", ["target v1"]);
    configSchema = (await t.call("GET", "/v1/schema/kumo.json")).json;
    expect(configSchema.properties?.handler).toBeDefined();
    const doc = await t.call("GET", "/docs/json");
    operations = Object.entries(
      doc.json.paths as Record<
        string,
        Record<string, { requestBody?: { content?: Record<string, { schema?: OpenApiSchema }> } }>
      >,
    ).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({
        method: method.toUpperCase(),
        path,
        body: withConfig(op.requestBody?.content?.["application/json"]?.schema),
      })),
    );
    await t.gateway.flushRecords();
  });
  afterAll(async () => {
    await t?.close();
  });

  const withConfig = (schema: OpenApiSchema | undefined): OpenApiSchema | undefined =>
    schema?.properties?.config
      ? { ...schema, properties: { ...schema.properties, config: configSchema } }
      : schema;
  const keyFor = (path: string) => (path.startsWith("/v1/tenants") ? t.adminKey : tenant.key);
  /** A URL for a route with every placeholder filled with a real name, except `fuzz`. */
  const urlFor = (route: string, fuzz: string | null, value: string) =>
    route
      .replace(/\{(\w+)\}|:(\w+)/g, (_m, a: string | undefined, b: string | undefined) => {
        const name = a ?? b ?? "";
        if (name === fuzz) return encodeURIComponent(value);
        if (name === "tenant") return tenant.name;
        return name === "name" || name === "function" ? "target" : "x1";
      })
      .replace(/\*$/, "");

  async function unchanged<T>(run: () => Promise<T>): Promise<T> {
    await t.gateway.flushRecords();
    const before = await snapshotTables(t.gateway.database.db, t.schema);
    const result = await run();
    await t.gateway.flushRecords();
    expect(await snapshotTables(t.gateway.database.db, t.schema)).toEqual(before);
    return result;
  }

  // Both walk every route (and every refused request writes an audit entry): minutes on a loaded machine.
  it("nul - every path parameter of every route is 400 FN_006 naming it", async () => {
    const routes = registeredRoutes(t.gateway.app).filter((r) => /:\w+/.test(r));
    expect(routes.length).toBeGreaterThan(20);
    const failures: string[] = [];
    for (const route of routes) {
      const [method = "GET", path = "/"] = route.split(" ");
      for (const param of [...path.matchAll(/:(\w+)/g)].map((m) => m[1] ?? "")) {
        const url = urlFor(path, param, NUL);
        const res = await unchanged(() =>
          t.call(method === "ALL" ? "GET" : method, url, {
            key: keyFor(path),
            ...(["POST", "PUT", "PATCH"].includes(method) ? { body: {} } : {}),
          }),
        );
        const ok =
          res.status === 400 &&
          res.json?.error?.code === "FN_006" &&
          res.json.error.details?.problems?.[0]?.field === `params.${param}`;
        if (!ok) failures.push(`${method} ${url}: ${res.status} ${res.body.slice(0, 200)}`);
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it("nul - every string field of every management body is 400 FN_006 naming it", async () => {
    const failures: string[] = [];
    let checked = 0;
    for (const op of operations) {
      if (!op.body || op.path.endsWith("/invoke")) continue;
      for (const field of stringFields(op.body)) {
        // Source files' contents are bytes on their way into a bundle or archive (see refuse-nul.ts).
        if (field[0] === "files" && field.length === 2) continue;
        const url = urlFor(op.path, null, "");
        const res = await unchanged(() =>
          t.call(op.method, url, { key: keyFor(op.path), body: bodyWith(field, NUL) }),
        );
        checked++;
        const expected = ["body", ...field].join(".");
        if (
          res.status !== 400 ||
          res.json?.error?.code !== "FN_006" ||
          res.json.error.details?.problems?.[0]?.field !== expected
        )
          failures.push(`${op.method} ${url} ${expected}: ${res.status} ${res.body.slice(0, 200)}`);
      }
    }
    expect(checked).toBeGreaterThan(40);
    expect(failures).toEqual([]);
  }, 120_000);

  it("nul - the cases found by attacking Kumo name their field", async () => {
    const cases: [method: string, url: string, body: unknown, field: string][] = [
      ["PUT", "/v1/functions/target/env/K", { value: NUL }, "body.value"],
      ["PATCH", "/v1/functions/target", { config: { env: { K: NUL } } }, "body.config.env.K"],
      ["PATCH", "/v1/functions/target", { config: { handler: NUL } }, "body.config.handler"],
      ["POST", `/v1/tenants/${"{tenant}"}/api-keys`, { name: NUL, role: "viewer" }, "body.name"],
      ["POST", "/v1/routes", { host: NUL, path: "/x", function: "target" }, "body.host"],
      ["PUT", "/v1/secrets/S", { value: NUL }, "body.value"],
      ["GET", "/v1/functions?search=a%00b", undefined, "query.search"],
    ];
    for (const [method, rawUrl, body, field] of cases) {
      const url = rawUrl.replace("{tenant}", tenant.name);
      const res = await unchanged(() => t.call(method, url, { key: tenant.key, body }));
      expect(res.status, `${method} ${url}: ${res.body}`).toBe(400);
      expect(res.json.error.code).toBe("FN_006");
      expect(res.json.error.details.problems[0].field).toBe(field);
      expect(res.json.error.message).toContain("NUL");
    }
    // The git remote's path parameters too.
    const git = await t.call("GET", `/git/${tenant.name}/%00.git/info/refs?service=git-upload-pack`);
    expect(git.status).toBeLessThan(500);
  });

  it("nul - a deployed file's contents may hold any byte", async () => {
    const dep = await t.call("POST", "/v1/functions/target/deployments", {
      key: tenant.key,
      body: {
        files: {
          "index.js": 'export default { fetch() { return new Response("nul:\\u0000") } }',
          "data.txt": "raw\u0000bytes",
        },
      },
    });
    expect(dep.status, dep.body).toBe(202);
    expect(dep.json.status).toBe("succeeded");
  });

  it("control characters - never a platform error", async () => {
    const failures: string[] = [];
    for (const op of operations) {
      if (!op.body || op.path.endsWith("/invoke") || op.path.includes("tenants")) continue;
      for (const field of stringFields(op.body).slice(0, 8)) {
        for (const c of CONTROLS) {
          const url = urlFor(op.path, null, "");
          const res = await t.call(op.method, url, { key: tenant.key, body: bodyWith(field, `x${c}y`) });
          if (res.status >= 500) failures.push(`${op.method} ${url} ${field.join(".")}: ${res.status}`);
        }
      }
    }
    for (const route of registeredRoutes(t.gateway.app).filter((r) => /:\w+/.test(r))) {
      const [method = "GET", path = "/"] = route.split(" ");
      for (const param of [...path.matchAll(/:(\w+)/g)].map((m) => m[1] ?? "")) {
        for (const c of CONTROLS) {
          const url = urlFor(path, param, `x${c}y`);
          const res = await t.call(method === "ALL" ? "GET" : method, url, { key: keyFor(path) });
          if (res.status >= 500) failures.push(`${method} ${url}: ${res.status} ${res.body.slice(0, 120)}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });
});
