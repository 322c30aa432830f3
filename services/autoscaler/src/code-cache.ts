import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import type Docker from "dockerode";
import { containerLabels } from "./container-labels.ts";
import type { VersionSpec } from "./version-catalog.ts";

export interface PreparedCode {
  /** Host directory holding the version's /var/task tree. */
  dir: string;
  /** KUMO_HANDLER of the function image (what /init is told to load). */
  handler: string | undefined;
  /**
   * Whether a stem cell can take the code on. Not a deno tree with vendor/ (remote imports fetched at
   * build): Deno finds vendor/ from its working directory when it starts, and a stem cell started in
   * another one. Such versions start cold from their own image.
   */
  stemCells: boolean;
}

export interface CodeCacheOptions {
  docker: Docker;
  /** Host directory for unpacked code trees, one per version. */
  dir: string;
  nodeId: string;
  labels: Record<string, string>;
  /** Reads a code tar from the artifacts table (the builder stores one per container version). */
  loadArtifact(tenantId: string, digest: string): Promise<Uint8Array | undefined>;
}

/**
 * A version's code on the host, for specializing stem cells: unpacked once per node from the
 * builder's code tar, or copied out of the function image (`/var/task`) when there is none.
 * Each specialization copies the tree into the cell's own read-only mount.
 */
export class CodeCache {
  readonly #options: CodeCacheOptions;
  readonly #prepared = new Map<string, Promise<PreparedCode>>();

  constructor(options: CodeCacheOptions) {
    this.#options = options;
    mkdirSync(options.dir, { recursive: true });
  }

  prepare(spec: VersionSpec): Promise<PreparedCode> {
    let prepared = this.#prepared.get(spec.versionId);
    if (!prepared) {
      prepared = this.#prepare(spec);
      this.#prepared.set(spec.versionId, prepared);
      prepared.catch(() => this.#prepared.delete(spec.versionId));
    }
    return prepared;
  }

  /** Copies a prepared tree into a stem cell's code directory. */
  copyInto(code: PreparedCode, target: string): void {
    cpSync(code.dir, target, { recursive: true, preserveTimestamps: true });
  }

  drop(versionId: string): void {
    this.#prepared.delete(versionId);
    rmSync(join(this.#options.dir, versionId), { recursive: true, force: true });
  }

  async #prepare(spec: VersionSpec): Promise<PreparedCode> {
    const { docker } = this.#options;
    const image = await docker.getImage(spec.image).inspect();
    const env = image.Config.Env ?? [];
    const handler =
      spec.config.handler ?? env.find((e) => e.startsWith("KUMO_HANDLER="))?.slice("KUMO_HANDLER=".length);
    const final = join(this.#options.dir, spec.versionId);
    const prepared = (): PreparedCode => ({
      dir: final,
      handler,
      stemCells: !(spec.runtime === "deno" && existsSync(join(final, "vendor"))),
    });
    if (existsSync(final)) return prepared();
    const staging = `${final}.${process.pid}.${Date.now()}`;
    mkdirSync(staging, { recursive: true, mode: 0o755 });
    try {
      const artifact = spec.codeArtifact
        ? await this.#options.loadArtifact(spec.tenantId, spec.codeArtifact)
        : undefined;
      if (artifact) {
        const gzip = artifact[0] === 0x1f && artifact[1] === 0x8b;
        await untar(staging, gzip ? ["-z"] : [], (stdin) => stdin.end(Buffer.from(artifact)));
      } else {
        await this.#copyFromImage(spec.image, staging);
      }
      renameSync(staging, final);
    } catch (error) {
      rmSync(staging, { recursive: true, force: true });
      if (!existsSync(final)) throw error;
    }
    return prepared();
  }

  async #copyFromImage(image: string, target: string): Promise<void> {
    const { docker } = this.#options;
    const container = await docker.createContainer({
      Image: image,
      Labels: {
        ...this.#options.labels,
        [containerLabels.managed]: "true",
        [containerLabels.node]: this.#options.nodeId,
        [containerLabels.role]: "code-copy",
      },
      HostConfig: { NetworkMode: "none" },
    });
    try {
      const archive = (await container.getArchive({ path: "/var/task" })) as unknown as Readable;
      await untar(target, ["--strip-components=1"], (stdin) => archive.pipe(stdin));
    } finally {
      await container.remove({ force: true }).catch(() => {});
    }
  }
}

function untar(dir: string, flags: string[], feed: (stdin: NodeJS.WritableStream) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const tar = spawn("tar", ["-x", ...flags, "--no-same-owner", "-C", dir], {
      stdio: ["pipe", "ignore", "pipe"],
    });
    let stderr = "";
    tar.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    tar.on("error", reject);
    tar.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`tar failed (${code}): ${stderr}`)),
    );
    feed(tar.stdin);
  });
}
