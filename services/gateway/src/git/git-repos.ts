import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";

/** One bare repository per function under `<dataDir>/git/<tenantId>/<functionId>.git`, driven by the git CLI. */
export class GitRepos {
  readonly #root: string;

  constructor(dataDir: string) {
    this.#root = join(dataDir, "git");
  }

  /** The function's bare repository, created on first use. */
  async ensure(tenantId: string, functionId: string): Promise<string> {
    const dir = join(this.#root, tenantId, `${functionId}.git`);
    if (!existsSync(join(dir, "HEAD"))) {
      await mkdir(dir, { recursive: true });
      await run("git", ["init", "--quiet", "--bare", "--initial-branch=main", dir]);
      // Force pushes are how people redeploy a rewritten history; nothing else reads this repository.
      await run("git", ["-C", dir, "config", "receive.denyNonFastForwards", "false"]);
      await run("git", ["-C", dir, "config", "receive.denyDeleteCurrent", "true"]);
    }
    return dir;
  }

  /** `git <service> --stateless-rpc [--advertise-refs] <repo>` with `input` on stdin; its stdout. */
  service(service: "receive-pack" | "upload-pack", repo: string, input?: Buffer): Promise<Buffer> {
    const args = [service, "--stateless-rpc", ...(input ? [] : ["--advertise-refs"]), repo];
    return run("git", args, input);
  }

  /** The tree of a commit as a tar. */
  archive(repo: string, commit: string): Promise<Buffer> {
    return run("git", ["-C", repo, "archive", "--format=tar", commit]);
  }

  /** The commit a ref points at, or undefined. */
  async resolve(repo: string, ref: string): Promise<string | undefined> {
    return run("git", ["-C", repo, "rev-parse", "--verify", "--quiet", ref])
      .then((out) => out.toString().trim() || undefined)
      .catch(() => undefined);
  }
}

function run(command: string, args: string[], input?: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, GIT_TERMINAL_PROMPT: "0" },
    });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve(Buffer.concat(out))
        : reject(new Error(`git ${args[0]} exited ${code}: ${err.trim()}`)),
    );
    child.stdin.on("error", () => {});
    child.stdin.end(input);
  });
}
