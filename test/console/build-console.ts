import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
// @ts-expect-error plain .mjs provisioning module without types
import { ensureConsole } from "../../scripts/provision/console.mjs";

/** Browser tests need packages/console/dist: built here when missing or stale (as `npm test` does). */
export default function setup(): void {
  (ensureConsole as (repoRoot: string) => void)(resolve(dirname(fileURLToPath(import.meta.url)), "../.."));
}
