import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ERRORS } from "@kumo/core";
import { describe, expect, it } from "vitest";
import { ENV_DESCRIPTIONS, KUMO_JSON_DESCRIPTIONS } from "../../docs/scripts/config-descriptions.ts";
import { ERROR_GUIDANCE } from "../../docs/scripts/error-guidance.ts";
import { generateReference } from "../../docs/scripts/generate-reference.ts";
import { autoscalerConfigSchema } from "../../services/autoscaler/src/config.ts";
import { builderConfigSchema } from "../../services/builder/src/config.ts";
import { gatewayConfigSchema } from "../../services/gateway/src/config.ts";
import { schedulerConfigSchema } from "../../services/scheduler/src/config.ts";
import { DOCS_DIR } from "./doc-blocks.ts";

const SCHEMAS = [gatewayConfigSchema, builderConfigSchema, autoscalerConfigSchema, schedulerConfigSchema];

/** The reference pages are generated from the code; CI fails when the committed ones drift. */
describe("docs - generated reference", () => {
  const { pages, missing } = generateReference();
  const page = (path: string) => pages.find((p) => p.path === path)?.content ?? "";

  it("docs reference - every error code, environment variable and kumo.json field has a description", () => {
    expect(missing).toEqual([]);
  });

  it("docs reference - the committed pages are what the generator writes (run `npm run generate -w @kumo/docs`)", () => {
    expect(pages.map((p) => p.path).sort()).toEqual([
      "reference/configuration.md",
      "reference/error-codes.md",
    ]);
    for (const { path, content } of pages) {
      expect(readFileSync(join(DOCS_DIR, path), "utf8"), path).toBe(content);
    }
  });

  it("docs reference - each FN code has its section with status, fault and guidance; no guidance for unknown codes", () => {
    const text = page("reference/error-codes.md");
    for (const [code, error] of Object.entries(ERRORS)) {
      expect(text).toContain(
        `## ${code}\n\n**${error.title}** · HTTP ${error.status} · fault: ${error.fault}`,
      );
      expect(text).toContain(ERROR_GUIDANCE[code as keyof typeof ERRORS].fix);
    }
    expect(Object.keys(ERROR_GUIDANCE).sort()).toEqual(Object.keys(ERRORS).sort());
  });

  it("docs reference - every variable of every service's schema is listed, and the map describes only real settings", () => {
    const text = page("reference/configuration.md");
    const variables = new Set(SCHEMAS.flatMap((s) => Object.keys(s.shape)));
    for (const name of variables) expect(text).toContain(`| \`${name}\` |`);
    for (const name of Object.keys(ENV_DESCRIPTIONS)) expect(variables, name).toContain(name);
    for (const field of Object.keys(KUMO_JSON_DESCRIPTIONS))
      expect(text, field).toContain(`| \`${field}\` |`);
  });

  it("docs reference - defaults and types come from the schemas (a duration in its unit, a switch, bounds)", () => {
    const text = page("reference/configuration.md");
    expect(text).toContain("| `KUMO_PORT` | integer 0–65535 | `8080` |");
    expect(text).toContain("| `KUMO_LOG_RETENTION` | duration ≥ 1h | `30d` |");
    expect(text).toContain("| `KUMO_JWKS_ALLOW_PRIVATE` | switch | `false` |");
    expect(text).toContain(
      "| `runtime` | `edge`, `node`, `bun`, `deno`, `python`, `go`, `container`, `node20`, `node22`, `node24`, `python3.11`, `python3.13` | required |",
    );
  });
});
