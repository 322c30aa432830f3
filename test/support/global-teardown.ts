import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * Once every test file is done: removes the dangling images tests left behind. Test files remove
 * their own images without pruning parents (other files' builds share those layers through the
 * build cache while they run), so the untagged intermediate layers are pruned here, when no build
 * is running. Only images labelled by tests (dev.kumo.test=1) are considered.
 */
export async function teardown(): Promise<void> {
  await run("docker", ["image", "prune", "-f", "--filter", "label=dev.kumo.test=1"]).catch(() => {});
}
