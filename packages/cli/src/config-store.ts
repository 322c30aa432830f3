import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { CliError, EXIT_CODES } from "./errors.ts";

/** The gateway a fresh install talks to: the one `npm start` starts. */
export const DEFAULT_URL = "http://127.0.0.1:8080";

/** What `kumo login` remembers. */
export interface StoredConfig {
  url?: string;
  apiKey?: string;
}

/** The URL and key a command uses, and where each came from (for `kumo whoami`). */
export interface Credentials {
  url: string;
  apiKey: string | undefined;
  source: "flag" | "env" | "config" | "none";
}

/** `$KUMO_CONFIG`, else `$XDG_CONFIG_HOME/kumo/config.json`, else `~/.config/kumo/config.json`. */
export function configPath(env: Readonly<Record<string, string | undefined>>): string {
  if (env.KUMO_CONFIG) return env.KUMO_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(base, "kumo", "config.json");
}

/**
 * The CLI's config file. It holds an API key, so it is written with mode 0600 (and its directory
 * 0700), atomically, so a crash never leaves half a file.
 */
export class ConfigStore {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  async read(): Promise<StoredConfig> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (error) {
      if (isMissing(error)) return {};
      throw error;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new CliError("USAGE", EXIT_CODES.usage, `${this.path} is not valid JSON`, {
        hint: "fix or delete it, then run `kumo login`",
      });
    }
    const config: StoredConfig = {};
    if (typeof parsed === "object" && parsed !== null) {
      if ("url" in parsed && typeof parsed.url === "string") config.url = parsed.url;
      if ("apiKey" in parsed && typeof parsed.apiKey === "string") config.apiKey = parsed.apiKey;
    }
    return config;
  }

  async write(config: StoredConfig): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const temp = `${this.path}.${process.pid}.tmp`;
    await writeFile(temp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
    // The mode given to writeFile is filtered by the umask and ignored for an existing file.
    await chmod(temp, 0o600);
    await rename(temp, this.path);
  }

  async clear(): Promise<void> {
    await rm(this.path, { force: true });
  }
}

/**
 * Flags beat environment beats the config file. A stored key is only sent to the URL it was stored
 * for, so `--url https://elsewhere` never leaks it to another server.
 */
export function resolveCredentials(
  flags: { url?: string; key?: string },
  env: Readonly<Record<string, string | undefined>>,
  stored: StoredConfig,
): Credentials {
  const url = normalizeUrl(flags.url || env.KUMO_URL || stored.url || DEFAULT_URL);
  if (flags.key) return { url, apiKey: flags.key, source: "flag" };
  if (env.KUMO_API_KEY) return { url, apiKey: env.KUMO_API_KEY, source: "env" };
  if (stored.apiKey && stored.url && normalizeUrl(stored.url) === url) {
    return { url, apiKey: stored.apiKey, source: "config" };
  }
  return { url, apiKey: undefined, source: "none" };
}

/** Validates a user-given base URL and drops the trailing slash. */
export function normalizeUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new CliError("USAGE", EXIT_CODES.usage, `invalid URL "${input}"`, {
      hint: "expected something like http://127.0.0.1:8080",
    });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new CliError(
      "USAGE",
      EXIT_CODES.usage,
      `invalid URL "${input}": only http and https are supported`,
    );
  }
  return url.toString().replace(/\/+$/, "");
}

function isMissing(error: unknown): boolean {
  return error instanceof Error && "code" in error && error.code === "ENOENT";
}
