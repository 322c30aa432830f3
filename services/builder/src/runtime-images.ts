import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { KumoError } from "@kumo/core";
import type { BuildRuntime, PlanImages } from "./build-plan.ts";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "../../..");

interface ImagesModule {
  ensureImages(options: {
    only: string[];
    log?: (line: string) => void;
  }): Promise<{ ok: boolean; images: Record<string, string>; failed: Record<string, string> }>;
}

/** Recipe images each runtime builds on: the run image and the build stage (toolchain). */
const IMAGES: Record<Exclude<BuildRuntime, "container">, { run: string; build: string }> = {
  node: { run: "runtime-node", build: "build-node" },
  bun: { run: "runtime-bun", build: "runtime-bun" },
  deno: { run: "runtime-deno", build: "runtime-deno" },
  python: { run: "runtime-python", build: "build-python" },
  go: { run: "runtime-go", build: "runtime-go-build" },
};

export type ImageResolver = (runtime: BuildRuntime, log: (line: string) => void) => Promise<PlanImages>;

/**
 * Resolves the runtime and toolchain images of a runtime to refs pinned by recipe digest
 * (kumo/runtime-node:<digest>), building them first if missing (scripts/images.mjs, offline). The
 * pinned refs go into the generated Dockerfile, so a changed runtime image changes the function
 * image digest. Resolved once per runtime per process.
 */
export function createImageResolver(): ImageResolver {
  const cache = new Map<string, Promise<PlanImages>>();
  return (runtime, log) => {
    if (runtime === "container") return Promise.resolve({ run: "" });
    let pending = cache.get(runtime);
    if (!pending) {
      pending = resolve(runtime, log);
      cache.set(runtime, pending);
      pending.catch(() => cache.delete(runtime));
    }
    return pending;
  };
}

async function resolve(
  runtime: Exclude<BuildRuntime, "container">,
  log: (line: string) => void,
): Promise<PlanImages> {
  const images = (await import(pathToFileURL(join(repoRoot, "scripts/images.mjs")).href)) as ImagesModule;
  const result = await images.ensureImages({
    only: [runtime],
    log: (line) => log(`runtime images: ${line}`),
  });
  const names = IMAGES[runtime];
  const run = result.images[names.run];
  const build = result.images[names.build];
  if (!result.ok || !run || !build) {
    throw new KumoError(
      "FN_500",
      `the ${runtime} runtime images are not available: ${JSON.stringify(result.failed)}`,
    );
  }
  return { run, build };
}
