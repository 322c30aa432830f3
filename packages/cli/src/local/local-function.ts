import { readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { parseEnv } from "node:util";
import type { FunctionConfig } from "@kumo/core";
import { invalidLocalInput } from "../errors.ts";
import { listDirectory } from "../pack-directory.ts";
import { readProjectConfig } from "../project-config.ts";

/** A function directory as `kumo dev` and `kumo test` run it: its config, files and environment. */
export interface LocalFunction {
  dir: string;
  name: string;
  config: FunctionConfig;
  /** What `kumo deploy` would upload, path → text. */
  files: Record<string, string>;
  /** kumo.json `env`, then `.env` (which wins, as function env vars win on the platform). */
  env: Record<string, string>;
  /** Secrets kumo.json names that `.env` does not define: the function runs without them. */
  missingSecrets: string[];
}

export const DOT_ENV = ".env";

/**
 * Reads `<dir>/kumo.json` (validated as the server does), the files a deploy would upload, and the
 * local environment: kumo.json `env` plus the directory's `.env`, which stands in for the function's
 * env vars and secrets (it is never uploaded: `kumo init` lists it in .kumoignore).
 */
export async function loadLocalFunction(dir: string): Promise<LocalFunction> {
  const project = await readProjectConfig(dir);
  const { files: paths } = await listDirectory(dir);
  const files: Record<string, string> = {};
  for (const path of paths) {
    if (path === DOT_ENV) continue;
    files[path] = await readFile(join(dir, path), "utf8");
  }
  const dotEnv = await readDotEnv(join(dir, DOT_ENV));
  const env = { ...project.config.env, ...dotEnv };
  return {
    dir,
    name: project.config.name ?? basename(dir),
    config: project.config,
    files,
    env,
    missingSecrets: project.config.secrets.filter((name) => env[name] === undefined),
  };
}

async function readDotEnv(path: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return {};
  }
  try {
    const parsed = parseEnv(text);
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(parsed)) if (value !== undefined) env[key] = value;
    return env;
  } catch (error) {
    throw invalidLocalInput(`${path} cannot be read as KEY=value lines: ${(error as Error).message}`);
  }
}
