import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";
import { createEdgeFunction, snapshotTables } from "./api-helpers.ts";
import { buildTar, gzipBomb, type TarEntry } from "./tar-fixtures.ts";

type Who = "tenant" | "platform";

interface BadCase {
  name: string;
  method: string;
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
  who?: Who;
  status: number;
  code: string;
  /** `error.details.problems[0].field`, when the route validates params, query or body. */
  field?: string | RegExp;
  /** The message must match, e.g. name the unknown field. */
  message?: RegExp;
}

const MB = 1024 * 1024;
const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const json = { "content-type": "application/json" };

/** Names no route may accept: unicode, emoji, right-to-left, traversal, over-long, upper case. */
const BAD_NAMES: [label: string, raw: string][] = [
  ["unicode", "héllo"],
  ["emoji", "🚀rocket"],
  ["right-to-left", "مرحبا"],
  ["traversal", "../../etc"],
  ["dot-dot", ".."],
  ["over-long", "a".repeat(64)],
  ["upper case", "Hello"],
  ["empty-ish", "-"],
];
const BAD_PATH_NAMES: [label: string, encoded: string][] = [
  ["unicode", encodeURIComponent("héllo")],
  ["emoji", encodeURIComponent("🚀rocket")],
  ["right-to-left", encodeURIComponent("مرحبا")],
  ["encoded traversal", "..%2f..%2fetc"],
  ["encoded dots", "%2e%2e%2fetc"],
  ["over-long", "a".repeat(64)],
  ["upper case", "Hello"],
];

const cases: BadCase[] = [];
const add = (c: BadCase) => cases.push(c);

// --- Platform: POST /v1/tenants ---
add({
  name: "tenants - malformed JSON",
  method: "POST",
  url: "/v1/tenants",
  who: "platform",
  body: '{"name":',
  headers: json,
  status: 400,
  code: "FN_006",
  message: /malformed JSON/,
});
add({
  name: "tenants - JSON that is not an object",
  method: "POST",
  url: "/v1/tenants",
  who: "platform",
  body: "[1,2]",
  headers: json,
  status: 400,
  code: "FN_006",
  field: "body",
});
add({
  name: "tenants - missing name",
  method: "POST",
  url: "/v1/tenants",
  who: "platform",
  body: {},
  status: 400,
  code: "FN_006",
  field: "body.name",
});
add({
  name: "tenants - name of the wrong type",
  method: "POST",
  url: "/v1/tenants",
  who: "platform",
  body: { name: 42 },
  status: 400,
  code: "FN_006",
  field: "body.name",
});
add({
  name: "tenants - unknown field",
  method: "POST",
  url: "/v1/tenants",
  who: "platform",
  body: { name: "fine", plan: "gold" },
  status: 400,
  code: "FN_006",
  message: /plan/,
});
for (const [label, raw] of BAD_NAMES) {
  add({
    name: `tenants - ${label} name`,
    method: "POST",
    url: "/v1/tenants",
    who: "platform",
    body: { name: raw },
    status: 400,
    code: "FN_006",
    field: "body.name",
  });
}
add({
  name: "tenants - body over 1 MB",
  method: "POST",
  url: "/v1/tenants",
  who: "platform",
  body: { name: "x".repeat(MB + 10) },
  status: 413,
  code: "FN_010",
});
add({
  name: "tenants - unsupported content type",
  method: "POST",
  url: "/v1/tenants",
  who: "platform",
  body: "name=x",
  headers: { "content-type": "text/plain" },
  status: 415,
  code: "FN_006",
});
add({
  name: "tenants - form content type",
  method: "POST",
  url: "/v1/tenants",
  who: "platform",
  body: "name=x",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  status: 415,
  code: "FN_006",
});
add({
  name: "tenants - empty JSON body",
  method: "POST",
  url: "/v1/tenants",
  who: "platform",
  body: "",
  headers: json,
  status: 400,
  code: "FN_006",
});
add({
  name: "tenants - bad limit",
  method: "GET",
  url: "/v1/tenants?limit=0",
  who: "platform",
  status: 400,
  code: "FN_006",
  field: "querystring.limit",
});
add({
  name: "tenants - bad cursor",
  method: "GET",
  url: "/v1/tenants?cursor=%25%25%25",
  who: "platform",
  status: 400,
  code: "FN_006",
  field: "cursor",
});

// --- API keys ---
add({
  name: "api-keys - unknown role",
  method: "POST",
  url: "/v1/tenants/{tenant}/api-keys",
  body: { role: "superuser" },
  status: 400,
  code: "FN_006",
  field: "body.role",
});
add({
  name: "api-keys - role in the wrong case",
  method: "POST",
  url: "/v1/tenants/{tenant}/api-keys",
  body: { role: "ADMIN" },
  status: 400,
  code: "FN_006",
  field: "body.role",
});
add({
  name: "api-keys - missing role",
  method: "POST",
  url: "/v1/tenants/{tenant}/api-keys",
  body: { name: "ci" },
  status: 400,
  code: "FN_006",
  field: "body.role",
});
add({
  name: "api-keys - role of the wrong type",
  method: "POST",
  url: "/v1/tenants/{tenant}/api-keys",
  body: { role: ["admin"] },
  status: 400,
  code: "FN_006",
  field: "body.role",
});
add({
  name: "api-keys - empty key name",
  method: "POST",
  url: "/v1/tenants/{tenant}/api-keys",
  body: { role: "viewer", name: "" },
  status: 400,
  code: "FN_006",
  field: "body.name",
});
add({
  name: "api-keys - over-long key name",
  method: "POST",
  url: "/v1/tenants/{tenant}/api-keys",
  body: { role: "viewer", name: "k".repeat(101) },
  status: 400,
  code: "FN_006",
  field: "body.name",
});
add({
  name: "api-keys - unknown field",
  method: "POST",
  url: "/v1/tenants/{tenant}/api-keys",
  body: { role: "viewer", expires: "never" },
  status: 400,
  code: "FN_006",
  message: /expires/,
});
add({
  name: "api-keys - malformed JSON",
  method: "POST",
  url: "/v1/tenants/{tenant}/api-keys",
  body: "{role:admin}",
  headers: json,
  status: 400,
  code: "FN_006",
});
add({
  name: "api-keys - unicode tenant",
  method: "POST",
  url: `/v1/tenants/${encodeURIComponent("tenänt")}/api-keys`,
  body: { role: "viewer" },
  status: 400,
  code: "FN_006",
  field: "params.tenant",
});
add({
  name: "api-keys - malformed key id",
  method: "DELETE",
  url: "/v1/tenants/{tenant}/api-keys/not-a-key",
  status: 400,
  code: "FN_006",
  field: "params.id",
});
add({
  name: "api-keys - traversal key id",
  method: "DELETE",
  url: "/v1/tenants/{tenant}/api-keys/key_..%2f..%2fx",
  status: 400,
  code: "FN_006",
  field: "params.id",
});
add({
  name: "api-keys - unknown key id",
  method: "DELETE",
  url: "/v1/tenants/{tenant}/api-keys/key_doesnotexist",
  status: 404,
  code: "FN_001",
});
add({
  name: "api-keys - garbage cursor",
  method: "GET",
  url: "/v1/tenants/{tenant}/api-keys?cursor=!!!",
  status: 400,
  code: "FN_006",
  field: "cursor",
});
add({
  name: "api-keys - cursor of the wrong shape",
  method: "GET",
  url: `/v1/tenants/{tenant}/api-keys?cursor=${cursorOf(["only-one"])}`,
  status: 400,
  code: "FN_006",
  field: "cursor",
});
add({
  name: "api-keys - cursor with a bad timestamp",
  method: "GET",
  url: `/v1/tenants/{tenant}/api-keys?cursor=${cursorOf(["yesterday", "key_x"])}`,
  status: 400,
  code: "FN_006",
  field: "cursor",
});

// --- Functions ---
add({
  name: "functions - unknown runtime",
  method: "POST",
  url: "/v1/functions",
  body: { name: "ok", runtime: "cobol" },
  status: 400,
  code: "FN_006",
  field: "body.runtime",
});
add({
  name: "functions - missing name",
  method: "POST",
  url: "/v1/functions",
  body: { runtime: "edge" },
  status: 400,
  code: "FN_006",
  field: "body.name",
});
add({
  name: "functions - missing runtime",
  method: "POST",
  url: "/v1/functions",
  body: { name: "ok" },
  status: 400,
  code: "FN_006",
  field: "body.runtime",
});
add({
  name: "functions - config not an object",
  method: "POST",
  url: "/v1/functions",
  body: { name: "ok", runtime: "edge", config: "fast" },
  status: 400,
  code: "FN_006",
  field: "body.config",
});
add({
  name: "functions - config value out of range",
  method: "POST",
  url: "/v1/functions",
  body: { name: "ok", runtime: "edge", config: { memoryMb: 999_999 } },
  status: 400,
  code: "FN_006",
  field: /memoryMb/,
});
add({
  name: "functions - unknown config key",
  method: "POST",
  url: "/v1/functions",
  body: { name: "ok", runtime: "edge", config: { memroyMb: 64 } },
  status: 400,
  code: "FN_006",
  message: /memroyMb/,
});
add({
  name: "functions - config runtime contradicts runtime",
  method: "POST",
  url: "/v1/functions",
  body: { name: "ok", runtime: "edge", config: { runtime: "python" } },
  status: 400,
  code: "FN_006",
  message: /runtime/,
});
add({
  name: "functions - unknown field",
  method: "POST",
  url: "/v1/functions",
  body: { name: "ok", runtime: "edge", region: "mars" },
  status: 400,
  code: "FN_006",
  message: /region/,
});
add({
  name: "functions - existing name",
  method: "POST",
  url: "/v1/functions",
  body: { name: "target", runtime: "edge" },
  status: 409,
  code: "FN_006",
  message: /already exists/,
});
add({
  name: "functions - body over 1 MB",
  method: "POST",
  url: "/v1/functions",
  body: { name: "ok", runtime: "edge", config: { env: { BIG: "x".repeat(MB) } } },
  status: 413,
  code: "FN_010",
});
add({
  name: "functions - unsupported content type",
  method: "POST",
  url: "/v1/functions",
  body: "<function/>",
  headers: { "content-type": "application/xml" },
  status: 415,
  code: "FN_006",
});
for (const [label, raw] of BAD_NAMES) {
  add({
    name: `functions - create with ${label} name`,
    method: "POST",
    url: "/v1/functions",
    body: { name: raw, runtime: "edge" },
    status: 400,
    code: "FN_006",
    field: "body.name",
  });
}
for (const [label, encoded] of BAD_PATH_NAMES) {
  for (const [method, suffix, body] of [
    ["GET", "", undefined],
    ["PATCH", "", { config: { memoryMb: 256 } }],
    ["DELETE", "", undefined],
    ["GET", "/versions", undefined],
    ["POST", "/deployments", { files: { "index.ts": "export default {}" } }],
    ["PUT", "/env/FOO", { value: "x" }],
    ["POST", "/rollback", {}],
    ["GET", "/logs", undefined],
  ] as const) {
    add({
      name: `functions - ${label} name in ${method} /v1/functions/:name${suffix}`,
      method,
      url: `/v1/functions/${encoded}${suffix}`,
      body,
      status: 400,
      code: "FN_006",
      field: "params.name",
    });
  }
}
add({
  name: "functions - a/../b in the path",
  method: "GET",
  url: "/v1/functions/a/../b",
  status: 404,
  code: "FN_001",
});
// The URL parser (WHATWG) resolves a bare %2e%2e segment before routing: no route, not a function named "..".
add({
  name: "functions - a bare %2e%2e segment",
  method: "GET",
  url: "/v1/functions/%2e%2e",
  status: 404,
  code: "FN_001",
});
// fastify's router refuses these before any route runs; they must still get Kumo's envelope.
add({
  name: "functions - name beyond the router's parameter limit",
  method: "GET",
  url: `/v1/functions/${"a".repeat(600)}`,
  status: 414,
  code: "FN_006",
});
add({
  name: "functions - malformed percent-encoding",
  method: "GET",
  url: "/v1/functions/%zz",
  status: 400,
  code: "FN_006",
});
add({
  name: "functions - PATCH without config",
  method: "PATCH",
  url: "/v1/functions/target",
  body: {},
  status: 400,
  code: "FN_006",
  field: "body.config",
});
add({
  name: "functions - PATCH config of the wrong type",
  method: "PATCH",
  url: "/v1/functions/target",
  body: { config: [1] },
  status: 400,
  code: "FN_006",
  field: "body.config",
});
add({
  name: "functions - PATCH a value of the wrong type",
  method: "PATCH",
  url: "/v1/functions/target",
  body: { config: { memoryMb: "lots" } },
  status: 400,
  code: "FN_006",
  field: /memoryMb/,
});
add({
  name: "functions - PATCH an unknown runtime",
  method: "PATCH",
  url: "/v1/functions/target",
  body: { config: { runtime: "cobol" } },
  status: 400,
  code: "FN_006",
  field: /runtime/,
});
add({
  name: "functions - PATCH an unknown httpAuth",
  method: "PATCH",
  url: "/v1/functions/target",
  body: { config: { httpAuth: "maybe" } },
  status: 400,
  code: "FN_006",
  field: /httpAuth/,
});
add({
  name: "functions - PATCH an unknown field",
  method: "PATCH",
  url: "/v1/functions/target",
  body: { config: {}, name: "renamed" },
  status: 400,
  code: "FN_006",
  message: /name/,
});
add({
  name: "functions - bad cursor",
  method: "GET",
  url: "/v1/functions?cursor=bm90LWpzb24",
  status: 400,
  code: "FN_006",
  field: "cursor",
});
add({
  name: "functions - limit not a number",
  method: "GET",
  url: "/v1/functions?limit=abc",
  status: 400,
  code: "FN_006",
  field: "querystring.limit",
});

// --- Versions and aliases ---
add({
  name: "versions - version not a number",
  method: "GET",
  url: "/v1/functions/target/versions/abc",
  status: 400,
  code: "FN_006",
  field: "params.version",
});
add({
  name: "versions - version zero",
  method: "GET",
  url: "/v1/functions/target/versions/0",
  status: 400,
  code: "FN_006",
  field: "params.version",
});
add({
  name: "versions - huge version",
  method: "GET",
  url: "/v1/functions/target/versions/99999999999999",
  status: 400,
  code: "FN_006",
  field: "params.version",
});
add({
  name: "versions - cursor that is not a version",
  method: "GET",
  url: `/v1/functions/target/versions?cursor=${cursorOf(["abc"])}`,
  status: 400,
  code: "FN_006",
  field: "cursor",
});
add({
  name: "aliases - weights not summing to 100",
  method: "PUT",
  url: "/v1/functions/target/aliases/beta",
  body: { routing: [{ version: 1, weight: 30 }] },
  status: 400,
  code: "FN_006",
  field: "body.routing",
});
add({
  name: "aliases - routing not an array",
  method: "PUT",
  url: "/v1/functions/target/aliases/beta",
  body: { routing: { version: 1, weight: 100 } },
  status: 400,
  code: "FN_006",
  field: "body.routing",
});
add({
  name: "aliases - missing routing",
  method: "PUT",
  url: "/v1/functions/target/aliases/beta",
  body: {},
  status: 400,
  code: "FN_006",
  field: "body.routing",
});
add({
  name: "aliases - unknown field in an entry",
  method: "PUT",
  url: "/v1/functions/target/aliases/beta",
  body: { routing: [{ version: 1, weight: 100, sticky: true }] },
  status: 400,
  code: "FN_006",
  message: /sticky/,
});
add({
  name: "aliases - unknown version",
  method: "PUT",
  url: "/v1/functions/target/aliases/beta",
  body: { routing: [{ version: 9, weight: 100 }] },
  status: 400,
  code: "FN_006",
  field: /routing/,
});
add({
  name: "aliases - unicode alias",
  method: "PUT",
  url: `/v1/functions/target/aliases/${encodeURIComponent("bêta")}`,
  body: { routing: [{ version: 1, weight: 100 }] },
  status: 400,
  code: "FN_006",
  field: "params.alias",
});
add({
  name: "aliases - traversal alias",
  method: "DELETE",
  url: "/v1/functions/target/aliases/..%2flive",
  status: 400,
  code: "FN_006",
  field: "params.alias",
});
add({
  name: "rollback - to of the wrong type",
  method: "POST",
  url: "/v1/functions/target/rollback",
  body: { to: "v1" },
  status: 400,
  code: "FN_006",
  field: "body.to",
});
add({
  name: "rollback - to zero",
  method: "POST",
  url: "/v1/functions/target/rollback",
  body: { to: 0 },
  status: 400,
  code: "FN_006",
  field: "body.to",
});
add({
  name: "rollback - unknown field",
  method: "POST",
  url: "/v1/functions/target/rollback",
  body: { version: 1 },
  status: 400,
  code: "FN_006",
  message: /version/,
});

// --- Env and secrets ---
add({
  name: "env - key starting with a digit",
  method: "PUT",
  url: "/v1/functions/target/env/1BAD",
  body: { value: "x" },
  status: 400,
  code: "FN_006",
  field: "params.key",
});
add({
  name: "env - key with a dash",
  method: "PUT",
  url: "/v1/functions/target/env/MY-KEY",
  body: { value: "x" },
  status: 400,
  code: "FN_006",
  field: "params.key",
});
add({
  name: "env - unicode key",
  method: "PUT",
  url: `/v1/functions/target/env/${encodeURIComponent("CLÉ")}`,
  body: { value: "x" },
  status: 400,
  code: "FN_006",
  field: "params.key",
});
add({
  name: "env - over-long key",
  method: "PUT",
  url: `/v1/functions/target/env/${"K".repeat(129)}`,
  body: { value: "x" },
  status: 400,
  code: "FN_006",
  field: "params.key",
});
add({
  name: "env - value of the wrong type",
  method: "PUT",
  url: "/v1/functions/target/env/FOO",
  body: { value: 5 },
  status: 400,
  code: "FN_006",
  field: "body.value",
});
add({
  name: "env - missing value",
  method: "PUT",
  url: "/v1/functions/target/env/FOO",
  body: {},
  status: 400,
  code: "FN_006",
  field: "body.value",
});
add({
  name: "env - value too long",
  method: "PUT",
  url: "/v1/functions/target/env/FOO",
  body: { value: "v".repeat(32_769) },
  status: 400,
  code: "FN_006",
  field: "body.value",
});
add({
  name: "env - unknown field",
  method: "PUT",
  url: "/v1/functions/target/env/FOO",
  body: { value: "x", secret: true },
  status: 400,
  code: "FN_006",
  message: /secret/,
});
add({
  name: "secrets - empty value",
  method: "PUT",
  url: "/v1/secrets/TOKEN",
  body: { value: "" },
  status: 400,
  code: "FN_006",
  field: "body.value",
});
add({
  name: "secrets - value of the wrong type",
  method: "PUT",
  url: "/v1/secrets/TOKEN",
  body: { value: { nested: 1 } },
  status: 400,
  code: "FN_006",
  field: "body.value",
});
add({
  name: "secrets - value too long",
  method: "PUT",
  url: "/v1/secrets/TOKEN",
  body: { value: "s".repeat(65_537) },
  status: 400,
  code: "FN_006",
  field: "body.value",
});
add({
  name: "secrets - name with a dash",
  method: "PUT",
  url: "/v1/secrets/my-token",
  body: { value: "x" },
  status: 400,
  code: "FN_006",
  field: "params.name",
});
add({
  name: "secrets - traversal name",
  method: "GET",
  url: "/v1/secrets/..%2f..%2fetc",
  status: 400,
  code: "FN_006",
  field: "params.name",
});
add({
  name: "secrets - unknown field",
  method: "PUT",
  url: "/v1/secrets/TOKEN",
  body: { value: "x", ttl: 5 },
  status: 400,
  code: "FN_006",
  message: /ttl/,
});
add({
  name: "secrets - body over 1 MB",
  method: "PUT",
  url: "/v1/secrets/TOKEN",
  body: { value: "s".repeat(MB + 1) },
  status: 413,
  code: "FN_010",
});
add({
  name: "secrets - bad cursor",
  method: "GET",
  url: "/v1/secrets?cursor=%7B%7D",
  status: 400,
  code: "FN_006",
  field: "cursor",
});

// --- Invocations and logs ---
add({
  name: "invocations - id not a UUID",
  method: "GET",
  url: "/v1/invocations/12345",
  status: 400,
  code: "FN_006",
  field: "params.id",
});
add({
  name: "invocations - bad status filter",
  method: "GET",
  url: "/v1/functions/target/invocations?status=exploded",
  status: 400,
  code: "FN_006",
  field: "querystring.status",
});
add({
  name: "invocations - bad version filter",
  method: "GET",
  url: "/v1/functions/target/invocations?version=latest",
  status: 400,
  code: "FN_006",
  field: "querystring.version",
});
add({
  name: "invocations - cursor with a bad timestamp",
  method: "GET",
  url: `/v1/functions/target/invocations?cursor=${cursorOf(["not-a-time", "x"])}`,
  status: 400,
  code: "FN_006",
  field: "cursor",
});
add({
  name: "logs - bad since",
  method: "GET",
  url: "/v1/functions/target/logs?since=last-tuesday",
  status: 400,
  code: "FN_006",
  field: "querystring.since",
});
add({
  name: "logs - bad follow",
  method: "GET",
  url: "/v1/functions/target/logs?follow=maybe",
  status: 400,
  code: "FN_006",
  field: "querystring.follow",
});
add({
  name: "logs - cursor that is not a line id",
  method: "GET",
  url: `/v1/functions/target/logs?cursor=${cursorOf(["abc"])}`,
  status: 400,
  code: "FN_006",
  field: "cursor",
});

// --- Deployments (JSON) ---
add({
  name: "deployments - empty object",
  method: "POST",
  url: "/v1/functions/target/deployments",
  body: {},
  status: 400,
  code: "FN_006",
  field: /.+/,
});
add({
  name: "deployments - no files",
  method: "POST",
  url: "/v1/functions/target/deployments",
  body: { files: {} },
  status: 400,
  code: "FN_006",
  field: "files",
});
add({
  name: "deployments - file content of the wrong type",
  method: "POST",
  url: "/v1/functions/target/deployments",
  body: { files: { "index.ts": 5 } },
  status: 400,
  code: "FN_006",
  field: /files/,
});
add({
  name: "deployments - unknown field",
  method: "POST",
  url: "/v1/functions/target/deployments",
  body: { files: { "index.ts": "export default {}" }, entry: "index.ts" },
  status: 400,
  code: "FN_006",
  message: /entry/,
});
add({
  name: "deployments - traversal file path",
  method: "POST",
  url: "/v1/functions/target/deployments",
  body: { files: { "../evil.ts": "x" } },
  status: 400,
  code: "FN_006",
  message: /\.\.\/evil\.ts/,
});
add({
  name: "deployments - absolute file path",
  method: "POST",
  url: "/v1/functions/target/deployments",
  body: { files: { "/etc/evil.ts": "x" } },
  status: 400,
  code: "FN_006",
  message: /\/etc\/evil\.ts/,
});
add({
  name: "deployments - malformed JSON",
  method: "POST",
  url: "/v1/functions/target/deployments",
  body: '{"files":{',
  headers: json,
  status: 400,
  code: "FN_006",
});
add({
  name: "deployments - unsupported content type",
  method: "POST",
  url: "/v1/functions/target/deployments",
  body: "export default {}",
  headers: { "content-type": "text/typescript" },
  status: 415,
  code: "FN_006",
});
add({
  name: "deployments - no body",
  method: "POST",
  url: "/v1/functions/target/deployments",
  status: 400,
  code: "FN_006",
});
add({
  name: "deployments - malformed deployment id",
  method: "GET",
  url: "/v1/functions/target/deployments/12",
  status: 400,
  code: "FN_006",
  field: "params.id",
});
add({
  name: "deployments - bad follow",
  method: "GET",
  url: "/v1/functions/target/deployments/dep_abc?follow=yes",
  status: 400,
  code: "FN_006",
  field: "querystring.follow",
});
add({
  name: "deployments - cursor with a bad timestamp",
  method: "GET",
  url: `/v1/functions/target/deployments?cursor=${cursorOf(["soon", "dep_x"])}`,
  status: 400,
  code: "FN_006",
  field: "cursor",
});

// --- Invocation bodies (10 MB limit) ---
add({
  name: "invoke - bad address",
  method: "POST",
  url: "/v1/functions/Target@@x/invoke",
  body: "x",
  status: 400,
  code: "FN_006",
  field: "params.name",
});
add({
  name: "invoke - body over 10 MB",
  method: "POST",
  url: "/v1/functions/target/invoke",
  body: Buffer.alloc(10 * MB + 1, 0x61),
  headers: { "content-type": "application/octet-stream" },
  status: 413,
  code: "FN_010",
});
add({
  name: "public - body over 10 MB",
  method: "POST",
  url: "/fn/{tenant}/target/",
  body: Buffer.alloc(10 * MB + 1, 0x61),
  headers: { "content-type": "text/plain" },
  status: 413,
  code: "FN_010",
});
add({
  name: "public - traversal function name",
  method: "GET",
  url: "/fn/{tenant}/..%2f..%2fetc/",
  status: 404,
  code: "FN_001",
});
add({
  name: "public - unicode function name",
  method: "GET",
  url: `/fn/{tenant}/${encodeURIComponent("héllo")}/`,
  status: 404,
  code: "FN_001",
});
add({
  name: "deployments - JSON body over 10 MB",
  method: "POST",
  url: "/v1/functions/target/deployments",
  body: { files: { "index.ts": "x".repeat(10 * MB + 10) } },
  status: 413,
  code: "FN_010",
});
add({
  name: "deployments - archive over 10 MB",
  method: "POST",
  url: "/v1/functions/target/deployments",
  body: Buffer.alloc(10 * MB + 1),
  headers: { "content-type": "application/gzip" },
  status: 413,
  code: "FN_010",
});

// --- Deployments (tar uploads): each refusal names the entry ---
const tarCases: {
  name: string;
  entries?: TarEntry[];
  raw?: () => Buffer;
  gzip?: boolean;
  entry?: string;
  message: RegExp;
}[] = [
  {
    name: "a ../ path",
    entries: [
      { name: "index.ts", content: "export default {}" },
      { name: "../evil.ts", content: "x" },
    ],
    entry: "../evil.ts",
    message: /\.\./,
  },
  {
    name: "a nested ../ path",
    entries: [{ name: "src/../../evil.ts", content: "x" }],
    entry: "src/../../evil.ts",
    message: /\.\./,
  },
  {
    name: "an absolute path",
    entries: [{ name: "/etc/cron.d/evil", content: "x" }],
    entry: "/etc/cron.d/evil",
    message: /absolute/,
  },
  {
    name: "a symlink",
    entries: [
      { name: "index.ts", content: "export default {}" },
      { name: "passwd", type: "symlink", linkname: "/etc/passwd" },
    ],
    entry: "passwd",
    message: /symlink/,
  },
  {
    name: "a hard link",
    entries: [
      { name: "index.ts", content: "export default {}" },
      { name: "hard", type: "link", linkname: "index.ts" },
    ],
    entry: "hard",
    message: /link/,
  },
  {
    name: "a character device",
    entries: [{ name: "null", type: "character-device" }],
    entry: "null",
    message: /character-device/,
  },
  {
    name: "a block device",
    entries: [{ name: "sda", type: "block-device" }],
    entry: "sda",
    message: /block-device/,
  },
  { name: "a fifo", entries: [{ name: "pipe", type: "fifo" }], entry: "pipe", message: /fifo/ },
  {
    name: "a ../ path, gzipped",
    entries: [{ name: "../../evil.ts", content: "x" }],
    gzip: true,
    entry: "../../evil.ts",
    message: /\.\./,
  },
  { name: "garbage bytes", raw: () => randomBytes(4096), message: /tar|archive/ },
  {
    name: "garbage after a gzip magic number",
    raw: () => Buffer.concat([Buffer.from([0x1f, 0x8b]), randomBytes(2048)]),
    message: /gzip|archive/,
  },
  { name: "an empty archive", entries: [], message: /no files/ },
  {
    name: "an archive of only directories",
    entries: [{ name: "src/", type: "directory" }],
    message: /no files/,
  },
];

describe("bad input", () => {
  let t: TestGateway;
  let tenant: { name: string; id: string; key: string };

  beforeAll(async () => {
    t = await startTestGateway({ edge: true });
    tenant = await t.tenant();
    await createEdgeFunction(t, tenant.key, "target", ["target v1"]);
    expect(
      (await t.call("PUT", "/v1/functions/target/env/FOO", { key: tenant.key, body: { value: "bar" } }))
        .status,
    ).toBe(200);
    expect((await t.call("PUT", "/v1/secrets/TOKEN", { key: tenant.key, body: { value: "s" } })).status).toBe(
      200,
    );
    expect((await t.call("POST", "/v1/functions/target/invoke", { key: tenant.key, body: "x" })).status).toBe(
      200,
    );
    await t.gateway.flushRecords();
  });
  afterAll(async () => {
    await t?.close();
  });

  /** Runs a request and checks that it changed nothing in the database. */
  async function withoutSideEffects<T>(run: () => Promise<T>): Promise<T> {
    await t.gateway.flushRecords();
    const before = await snapshotTables(t.gateway.database.db, t.schema);
    const result = await run();
    await t.gateway.flushRecords();
    const after = await snapshotTables(t.gateway.database.db, t.schema);
    for (const table of Object.keys(before))
      expect(after[table], `table ${table} changed`).toEqual(before[table]);
    return result;
  }

  for (const c of cases) {
    it(`bad input - ${c.name} is ${c.status} ${c.code}`, async () => {
      const url = c.url.replaceAll("{tenant}", tenant.name);
      const key = c.who === "platform" ? t.adminKey : tenant.key;
      const res = await withoutSideEffects(() =>
        t.call(c.method, url, { key, body: c.body, ...(c.headers ? { headers: c.headers } : {}) }),
      );
      expect(res.status, `${c.method} ${url}: ${res.body.slice(0, 500)}`).toBe(c.status);
      expect(res.json?.error?.code, res.body.slice(0, 500)).toBe(c.code);
      const message: string = res.json.error.message;
      expect(message.length).toBeGreaterThan(10);
      if (c.message) expect(message).toMatch(c.message);
      if (c.field !== undefined) {
        const field = res.json.error.details?.problems?.[0]?.field;
        if (typeof c.field === "string") expect(field, res.body.slice(0, 500)).toBe(c.field);
        else expect(field, res.body.slice(0, 500)).toMatch(c.field);
      }
    });
  }

  for (const c of tarCases) {
    it(`bad input - a tar upload with ${c.name} is 400 FN_006${c.entry ? " naming the entry" : ""}`, async () => {
      const archive = c.raw ? c.raw() : await buildTar(c.entries ?? [], { gzip: c.gzip === true });
      const contentType = c.gzip || archive[0] === 0x1f ? "application/gzip" : "application/x-tar";
      const res = await withoutSideEffects(() =>
        t.call("POST", "/v1/functions/target/deployments", {
          key: tenant.key,
          body: archive,
          headers: { "content-type": contentType },
        }),
      );
      expect(res.status, res.body).toBe(400);
      expect(res.json.error.code).toBe("FN_006");
      expect(res.json.error.message).toMatch(c.message);
      if (c.entry) {
        expect(res.json.error.message).toContain(c.entry);
        expect(res.json.error.details?.entry).toBe(c.entry);
      }
    });
  }

  it("bad input - a 1 MB gzip inflating to 1 GiB is 413 FN_010 naming the limit, promptly", async () => {
    const bomb = gzipBomb(1024);
    expect(bomb.length).toBeLessThan(1.5 * MB);
    const started = performance.now();
    const res = await withoutSideEffects(() =>
      t.call("POST", "/v1/functions/target/deployments", {
        key: tenant.key,
        body: bomb,
        headers: { "content-type": "application/gzip" },
      }),
    );
    const elapsedMs = performance.now() - started;
    expect(res.status, res.body.slice(0, 500)).toBe(413);
    expect(res.json.error.code).toBe("FN_010");
    expect(res.json.error.message).toContain(String(50 * MB));
    // Inflating all of it took 8-16 s; stopping at the limit takes well under a second.
    expect(elapsedMs).toBeLessThan(3000);
  });

  it("bad input - a valid tar upload deploys, so the tar cases fail for their entry and not the format", async () => {
    const archive = await buildTar(
      [
        { name: "./src/", type: "directory" },
        { name: "./index.ts", content: "export default { fetch() { return new Response('from tar') } }" },
      ],
      { gzip: true },
    );
    const res = await t.call("POST", "/v1/functions/target/deployments", {
      key: tenant.key,
      body: archive,
      headers: { "content-type": "application/gzip" },
    });
    expect(res.status, res.body).toBe(202);
    expect((await t.call("GET", `/fn/${tenant.name}/target/`)).body).toBe("from tar");
  });

  it("bad input - the same names are fine when valid, so the name cases fail for the name", async () => {
    const ok = await t.call("POST", "/v1/functions", {
      key: tenant.key,
      body: { name: `a${"b".repeat(62)}`, runtime: "edge" },
    });
    expect(ok.status, ok.body).toBe(201);
    expect((await t.call("GET", `/v1/functions/a${"b".repeat(62)}`, { key: tenant.key })).status).toBe(200);
    expect(
      (
        await t.call("PUT", `/v1/functions/target/env/${"K".repeat(128)}`, {
          key: tenant.key,
          body: { value: "" },
        })
      ).status,
    ).toBe(200);
  });
});
