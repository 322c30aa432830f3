import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { DeployedVersion, InvocationRequest } from "@kumo/core";
import { bundleEdgeFunction, createEdgeProvider, type EdgeProvider } from "@kumo/edge";
import type { LocalFunction } from "./local-function.ts";
import { type LocalResult, type LocalRunner, readBody } from "./local-runner.ts";

/**
 * Edge functions in the platform's own isolate host (isolated-vm in a child process, the same
 * bootstrap, limits and Lambda rules), so local runs behave as deployed ones. Each load is a new
 * version key, hence a fresh isolate; the previous one is evicted.
 */
export class EdgeLocalRunner implements LocalRunner {
  readonly label = "edge isolate (the platform's isolate host)";
  readonly #provider: EdgeProvider;
  #target: DeployedVersion | undefined;
  #loads = 0;

  private constructor(provider: EdgeProvider) {
    this.#provider = provider;
  }

  static async start(): Promise<EdgeLocalRunner> {
    // One host is plenty for one function; outbound fetch may reach this machine's own services
    // (a local database API, a mock), as a developer running it locally expects.
    const provider = await createEdgeProvider({
      hosts: 1,
      spareIsolates: 0,
      maxIsolatesPerHost: 4,
      fetch: { allowPrivateAddresses: true },
    });
    return new EdgeLocalRunner(provider);
  }

  async load(fn: LocalFunction): Promise<void> {
    // npm dependencies resolve from the directory's own node_modules (`npm install` there), as the
    // platform resolves them from the install it makes at deploy.
    const options = {
      ...(fn.config.handler ? { entry: fn.config.handler } : {}),
      ...(existsSync(join(fn.dir, "node_modules")) ? { nodeModulesDir: fn.dir } : {}),
      ...(fn.config.compatibility ? { compatibility: fn.config.compatibility } : {}),
      ...(fn.config.handlerShape ? { handlerShape: fn.config.handlerShape } : {}),
    };
    const bundle = await bundleEdgeFunction(fn.files, options);
    const previous = this.#target;
    const version = ++this.#loads;
    this.#target = {
      tenantId: "local",
      functionId: `local-${fn.name}`,
      functionName: fn.name,
      versionId: `dev-${version}-${bundle.digest.slice(0, 12)}`,
      version,
      runtime: "edge",
      config: fn.config,
      sourceDigest: bundle.digest,
      artifact: bundle.digest,
      loadCode: async () => bundle.code,
      env: fn.env,
      envDigest: createHash("sha256").update(JSON.stringify(fn.env)).digest("hex").slice(0, 16),
    };
    if (previous) await this.#provider.evict?.(previous.versionId);
  }

  async invoke(request: InvocationRequest): Promise<LocalResult> {
    if (!this.#target) throw new Error("load() the function before invoking it");
    const result = await this.#provider.invoke(this.#target, request);
    return { ...result, body: await readBody(result.body) };
  }

  async close(): Promise<void> {
    await this.#provider.stop();
  }
}
