import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type FunctionConfig, functionConfigSchema, problemsOf } from "@kumo/core";
import { invalidLocalInput, usageError } from "./errors.ts";

export const CONFIG_FILE = "kumo.json";

/** A function directory's kumo.json: as written (sent to the server) and as validated. */
export interface ProjectConfig {
  path: string;
  /** The file as the user wrote it; the server applies the same schema and defaults. */
  raw: Record<string, unknown>;
  config: FunctionConfig;
}

/**
 * Reads and validates `<dir>/kumo.json` with the same schema the server uses, so mistakes are
 * reported before anything is packed or uploaded, each with the field it concerns.
 */
export async function readProjectConfig(dir: string): Promise<ProjectConfig> {
  const path = join(dir, CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw usageError(
      `no ${CONFIG_FILE} in ${dir}`,
      "run `kumo init <name> --runtime <runtime>` to create one",
    );
  }
  return parseProjectConfig(text, path);
}

/** Validates the text of a kumo.json; `path` only names the file in messages. */
export function parseProjectConfig(text: string, path: string): ProjectConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw invalidLocalInput(`${path} is not valid JSON: ${reason}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw invalidLocalInput(`${path} must hold a JSON object`);
  }
  const result = functionConfigSchema.safeParse(raw);
  if (!result.success) {
    const problems = problemsOf(result.error);
    const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    throw invalidLocalInput(`invalid ${path} (${count})`, { problems });
  }
  return { path, raw: { ...raw }, config: result.data };
}
