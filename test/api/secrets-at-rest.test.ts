import { createHash, randomBytes } from "node:crypto";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";
import { expectError, tableNames } from "./api-helpers.ts";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

describe("secrets at rest", () => {
  let t: TestGateway;
  let tenant: { name: string; id: string; key: string };
  const value1 = `s3cr3t-${randomBytes(12).toString("hex")}-first`;
  const value2 = `s3cr3t-${randomBytes(12).toString("hex")}-second`;

  /** Every place a plaintext could hide, as text: rows of all tables in the schema, bytea as hex. */
  async function findPlaintext(plain: string): Promise<string[]> {
    const db = t.gateway.database.db;
    const needles = [
      plain,
      Buffer.from(plain).toString("hex"),
      Buffer.from(plain).toString("base64"),
      Buffer.from(plain).toString("base64url"),
    ];
    const hits: string[] = [];
    for (const table of await tableNames(db, t.schema)) {
      const columns = await sql<{ column_name: string; data_type: string }>`
        select column_name, data_type from information_schema.columns
        where table_schema = ${t.schema} and table_name = ${table}`.execute(db);
      for (const column of columns.rows) {
        if (!["text", "bytea", "jsonb", "json", "character varying"].includes(column.data_type)) continue;
        // bytea as hex (encode) and everything else as text; lower() so hex case does not matter.
        const expr =
          column.data_type === "bytea"
            ? sql`lower(encode(${sql.ref(column.column_name)}, 'hex'))`
            : sql`lower(${sql.ref(column.column_name)}::text)`;
        for (const needle of needles) {
          const rows = await sql<{ n: string }>`
            select count(*)::text as n from ${sql.table(table)} where ${expr} like ${`%${needle.toLowerCase()}%`}`.execute(
            db,
          );
          if (rows.rows[0]?.n !== "0")
            hits.push(`${table}.${column.column_name} (${needle === plain ? "plain" : "encoded"})`);
        }
      }
    }
    return hits;
  }

  beforeAll(async () => {
    t = await startTestGateway({ edge: true });
    tenant = await t.tenant();
  });
  afterAll(async () => {
    await t?.close();
  });

  it("secrets - a written secret is stored sealed: no table holds its plaintext", async () => {
    const res = await t.call("PUT", "/v1/secrets/API_TOKEN", { key: tenant.key, body: { value: value1 } });
    expect(res.status, res.body).toBe(200);
    expect(res.json).toEqual({ name: "API_TOKEN", version: 1 });
    expect(res.body).not.toContain(value1);

    const rows = await t.gateway.database.db
      .selectFrom("secrets")
      .selectAll()
      .where("name", "=", "API_TOKEN")
      .execute();
    expect(rows).toHaveLength(1);
    const sealed = Buffer.from(rows[0]?.sealed ?? []);
    expect(sealed.length).toBeGreaterThan(value1.length - 1);
    expect(sealed.includes(Buffer.from(value1))).toBe(false);
    // The scan must be able to find things: the secret's name is stored in the clear.
    expect(await findPlaintext("API_TOKEN")).toContain("secrets.name (plain)");
    expect(await findPlaintext(value1)).toEqual([]);
  });

  it("secrets - get and list return metadata, never the value", async () => {
    const one = await t.call("GET", "/v1/secrets/API_TOKEN", { key: tenant.key });
    expect(one.status).toBe(200);
    expect(Object.keys(one.json).sort()).toEqual(["createdAt", "name", "updatedAt", "version"]);
    expect(one.body).not.toContain(value1);
    const list = await t.call("GET", "/v1/secrets", { key: tenant.key });
    expect(list.json.items.map((s: { name: string }) => s.name)).toEqual(["API_TOKEN"]);
    expect(list.body).not.toContain(value1);
    // The audit trail records that a secret was written, not what.
    const audit = await t.gateway.database.db
      .selectFrom("audit_events")
      .selectAll()
      .where("action", "=", "secret.put")
      .execute();
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit)).not.toContain(value1);
  });

  it("secrets - a function that lists the secret in kumo.json sees the value in env", async () => {
    expect(
      (
        await t.call("POST", "/v1/functions", {
          key: tenant.key,
          body: { name: "uses-secret", runtime: "edge" },
        })
      ).status,
    ).toBe(201);
    const dep = await t.call("POST", "/v1/functions/uses-secret/deployments", {
      key: tenant.key,
      body: {
        files: {
          "index.ts": `export default { async fetch(req: Request, env: any) {
            const bytes = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(env.API_TOKEN ?? "")));
            const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
            return new Response(JSON.stringify({ sha256: hex, hasOther: "OTHER" in env }));
          } }`,
        },
        config: { secrets: ["API_TOKEN"] },
      },
    });
    expect(dep.status, dep.body).toBe(202);
    expect(dep.json.status).toBe("succeeded");
    const res = await t.call("GET", `/fn/${tenant.name}/uses-secret/`);
    expect(res.status, res.body).toBe(200);
    expect(res.json).toEqual({ sha256: sha256(value1), hasOther: false });
    // The version's stored config names the secret; the value stays out of it.
    const version = await t.call("GET", "/v1/functions/uses-secret/versions/1", { key: tenant.key });
    expect(version.json.config.secrets).toEqual(["API_TOKEN"]);
    expect(version.body).not.toContain(value1);
    await t.gateway.flushRecords();
    expect(await findPlaintext(value1)).toEqual([]);
  });

  it("secrets - rotation makes version 2 and the next invocation sees the new value", async () => {
    const res = await t.call("PUT", "/v1/secrets/API_TOKEN", { key: tenant.key, body: { value: value2 } });
    expect(res.json).toEqual({ name: "API_TOKEN", version: 2 });
    const meta = await t.call("GET", "/v1/secrets/API_TOKEN", { key: tenant.key });
    expect(meta.json.version).toBe(2);
    const rows = await t.gateway.database.db
      .selectFrom("secrets")
      .select(["version"])
      .where("name", "=", "API_TOKEN")
      .orderBy("version")
      .execute();
    expect(rows.map((r) => r.version)).toEqual([1, 2]);
    const invoked = await t.call("GET", `/fn/${tenant.name}/uses-secret/`);
    expect(invoked.json.sha256).toBe(sha256(value2));
    expect(await findPlaintext(value2)).toEqual([]);
  });

  it("secrets - a function that needs a missing secret fails with a message naming it", async () => {
    expect(
      (
        await t.call("POST", "/v1/functions", {
          key: tenant.key,
          body: { name: "needs-missing", runtime: "edge" },
        })
      ).status,
    ).toBe(201);
    const dep = await t.call("POST", "/v1/functions/needs-missing/deployments", {
      key: tenant.key,
      body: {
        files: { "index.ts": "export default { fetch() { return new Response('x') } }" },
        config: { secrets: ["NOT_THERE"] },
      },
    });
    expect(dep.status, dep.body).toBe(202);
    const res = await t.call("GET", `/fn/${tenant.name}/needs-missing/`);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.json.error.message).toContain("NOT_THERE");
  });

  it("secrets - delete removes every version and the function no longer gets the value", async () => {
    const del = await t.call("DELETE", "/v1/secrets/API_TOKEN", { key: tenant.key });
    expect(del.status).toBe(204);
    const rows = await t.gateway.database.db
      .selectFrom("secrets")
      .selectAll()
      .where("name", "=", "API_TOKEN")
      .execute();
    expect(rows).toEqual([]);
    expectError(await t.call("GET", "/v1/secrets/API_TOKEN", { key: tenant.key }), 404, "FN_001");
    expect((await t.call("GET", "/v1/secrets", { key: tenant.key })).json.items).toEqual([]);
    expectError(await t.call("DELETE", "/v1/secrets/API_TOKEN", { key: tenant.key }), 404, "FN_001");
    const invoked = await t.call("GET", `/fn/${tenant.name}/uses-secret/`);
    expect(invoked.body).not.toContain(sha256(value2));
    expect(invoked.json.error.message).toContain("API_TOKEN");
    // A new write after deletion starts again at version 1.
    expect(
      (await t.call("PUT", "/v1/secrets/API_TOKEN", { key: tenant.key, body: { value: value1 } })).json
        .version,
    ).toBe(1);
  });

  it("secrets - the same ciphertext cannot be replayed under another tenant or name", async () => {
    const other = await t.tenant();
    expect(
      (await t.call("PUT", "/v1/secrets/STOLEN", { key: other.key, body: { value: "placeholder" } })).status,
    ).toBe(200);
    const db = t.gateway.database.db;
    const mine = await db
      .selectFrom("secrets")
      .select(["sealed"])
      .where("tenant_id", "=", tenant.id)
      .where("name", "=", "API_TOKEN")
      .executeTakeFirstOrThrow();
    // Copy tenant 1's ciphertext into tenant 2's row: the tenant/name binding must refuse to open it.
    await db
      .updateTable("secrets")
      .set({ sealed: mine.sealed })
      .where("tenant_id", "=", other.id)
      .where("name", "=", "STOLEN")
      .execute();
    expect(
      (await t.call("POST", "/v1/functions", { key: other.key, body: { name: "thief", runtime: "edge" } }))
        .status,
    ).toBe(201);
    const dep = await t.call("POST", "/v1/functions/thief/deployments", {
      key: other.key,
      body: {
        files: {
          "index.ts":
            "export default { fetch(r: Request, env: any) { return new Response(String(env.STOLEN)) } }",
        },
        config: { secrets: ["STOLEN"] },
      },
    });
    expect(dep.status, dep.body).toBe(202);
    const res = await t.call("GET", `/fn/${other.name}/thief/`);
    expect(res.body).not.toContain(value1);
    expect(res.status).toBeGreaterThanOrEqual(400);
  });
});
