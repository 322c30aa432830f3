import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";
import { answers, createFunction, deploy, expectError, putAlias } from "./routing-helpers.ts";

describe("version retention", () => {
  let t: TestGateway;
  let tenant: { name: string; id: string; key: string };

  beforeAll(async () => {
    t = await startTestGateway({ edge: true, env: { KUMO_VERSION_RETENTION: "3" } });
    tenant = await t.tenant();
  });
  afterAll(async () => {
    await t?.close();
  });

  const versions = async (fn: string) =>
    (await t.call("GET", `/v1/functions/${fn}/versions`, { key: tenant.key })).json.items.map(
      (v: { version: number }) => v.version,
    );

  it("retention - keeps N versions, pruning the oldest, but never one an alias points at (weight 0 included)", async () => {
    await createFunction(t, tenant.key, "kept");
    await deploy(t, tenant.key, "kept", answers("v1"));
    await deploy(t, tenant.key, "kept", answers("v2"));
    expect((await putAlias(t, tenant.key, "kept", "pinned", [{ version: 1, weight: 100 }])).status).toBe(200);
    expect(
      (
        await putAlias(t, tenant.key, "kept", "dark", [
          { version: 1, weight: 100 },
          { version: 2, weight: 0 },
        ])
      ).status,
    ).toBe(200);
    for (const n of [3, 4, 5, 6]) expect(await deploy(t, tenant.key, "kept", answers(`v${n}`))).toBe(n);
    expect(await versions("kept")).toEqual([6, 2, 1]);
    expect((await t.call("GET", `/fn/${tenant.name}/kept@pinned/`)).body).toBe("v1");
    expect((await t.call("GET", `/fn/${tenant.name}/kept@v2/`)).body).toBe("v2");
    expect((await t.call("GET", `/fn/${tenant.name}/kept/`)).body).toBe("v6");
    expectError(await t.call("GET", `/fn/${tenant.name}/kept@v3/`), 404, "FN_001");
    const pruned = await t.gateway.database.db
      .selectFrom("audit_events")
      .select("details")
      .where("tenant_id", "=", tenant.id)
      .where("action", "=", "version.prune")
      .orderBy("id")
      .execute();
    expect(pruned.map((p) => p.details)).toEqual([
      { versions: [3], keep: 3 },
      { versions: [4], keep: 3 },
      { versions: [5], keep: 3 },
    ]);
    // Once the alias lets go, the next deploy prunes down to N again; live's version stays.
    expect((await t.call("DELETE", "/v1/functions/kept/aliases/dark", { key: tenant.key })).status).toBe(204);
    expect((await t.call("DELETE", "/v1/functions/kept/aliases/pinned", { key: tenant.key })).status).toBe(
      204,
    );
    await deploy(t, tenant.key, "kept", answers("v7"));
    expect(await versions("kept")).toEqual([7, 6, 2]);
    // Pruned versions' artifacts go too, unless another version shares them.
    const artifacts = await t.gateway.database.db
      .selectFrom("artifacts")
      .select("digest")
      .where("tenant_id", "=", tenant.id)
      .execute();
    const used = await t.gateway.database.db
      .selectFrom("versions")
      .select(["artifact", "source_digest"])
      .where("tenant_id", "=", tenant.id)
      .execute();
    // Each kept version's bundle and its stored source (keyed by the source digest).
    expect(new Set(artifacts.map((a) => a.digest))).toEqual(
      new Set(used.flatMap((u) => [u.artifact, u.source_digest])),
    );
  });

  it("versions - each version says what changed against the one before it", async () => {
    await createFunction(t, tenant.key, "diffs");
    await deploy(t, tenant.key, "diffs", answers("a"));
    await t.call("PATCH", "/v1/functions/diffs", { key: tenant.key, body: { config: { memoryMb: 256 } } });
    await deploy(t, tenant.key, "diffs", answers("a"));
    await deploy(t, tenant.key, "diffs", answers("b"));
    const items = (await t.call("GET", "/v1/functions/diffs/versions", { key: tenant.key })).json.items;
    expect(items.map((v: { changes: unknown }) => v.changes)).toEqual([
      { previousVersion: 2, sourceChanged: true, runtimeChanged: false, configKeys: [] },
      { previousVersion: 1, sourceChanged: false, runtimeChanged: false, configKeys: ["memoryMb"] },
      {
        previousVersion: null,
        sourceChanged: true,
        runtimeChanged: true,
        configKeys: expect.arrayContaining(["runtime", "memoryMb"]),
      },
    ]);
    expect(items[0].createdBy).toBeTruthy();
    expect(items[0].createdAt).toBeTruthy();
  });
});
