import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GENERATED_FILE, generateClientTypes } from "../../packages/client/scripts/generate-types.ts";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";

describe("client SDK - generated types", () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(async () => {
    await t?.close();
  });

  it("client types - the committed types are what the running gateway's OpenAPI document generates", async () => {
    const doc = await t.gateway.app.inject({ method: "GET", url: "/docs/json" });
    expect(doc.statusCode).toBe(200);
    const expected = await generateClientTypes(JSON.parse(doc.body));
    const committed = await readFile(GENERATED_FILE, "utf8");
    // On a difference: run `node --import tsx packages/client/scripts/generate-types.ts --url <gateway>`.
    expect(committed === expected, "packages/client/src/openapi.generated.ts is stale: regenerate it").toBe(
      true,
    );
    expect(committed).toContain('"/v1/functions/{name}/run"');
    expect(committed).toContain('"/v1/run"');
  });
});
