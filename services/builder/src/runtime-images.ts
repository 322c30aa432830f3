import { KumoError } from "@kumo/core";
import type Docker from "dockerode";
import type { PlanImages } from "./build-plan.ts";

/** What builds the runtime images (scripts/images.mjs in a checkout): injected, never imported here. */
export type EnsureImages = (options: {
  only: string[];
  log?: (line: string) => void;
}) => Promise<{ ok: boolean; images: Record<string, string>; failed: Record<string, string> }>;

interface RuntimeImages {
  /** The `lang` of its recipes in deploy/images/recipes.json: what `ensureImages({ only })` takes. */
  lang: string;
  run: string;
  build: string;
  /** The Python interpreter of the images, for the pip build stage. */
  python?: string;
}

const node = (version: string): RuntimeImages => ({
  lang: `node${version}`,
  run: `runtime-node${version}`,
  build: `build-node${version}`,
});
const python311 = {
  lang: "python",
  run: "runtime-python",
  build: "build-python",
  python: "/usr/bin/python3.11",
};

/**
 * Recipe images each runtime name builds on: the run image and the build stage (toolchain). A
 * family's default version is its plain recipe (node = node24 = runtime-node); every other version
 * has recipes of its own, built the first time a function uses it (so setup builds none of them).
 */
const IMAGES: Record<string, RuntimeImages> = {
  node: node(""),
  node24: node(""),
  node22: node("22"),
  node20: node("20"),
  bun: { lang: "bun", run: "runtime-bun", build: "runtime-bun" },
  deno: { lang: "deno", run: "runtime-deno", build: "runtime-deno" },
  python: python311,
  "python3.11": python311,
  "python3.13": {
    lang: "python3.13",
    run: "runtime-python3.13",
    build: "build-python3.13",
    python: "/usr/bin/python3.13",
  },
  go: { lang: "go", run: "runtime-go", build: "runtime-go-build" },
};

/** A recipe image's pinned tag: `kumo/<name>:<16 hex digits of its recipe digest>`. */
const PINNED = /^kumo\/[a-z0-9-]+:[0-9a-f]{16}$/;

/** Resolves a runtime name ("node", "node22", "python3.13", "container") to its images. */
export type ImageResolver = (runtime: string, log: (line: string) => void) => Promise<PlanImages>;

export interface ImageResolverOptions {
  docker: Docker;
  /** Builds missing or outdated images first (the all-in-one launcher and tests pass the checkout's). */
  ensureImages?: EnsureImages;
}

/**
 * Resolves the runtime and toolchain images of a runtime to refs pinned by recipe digest
 * (kumo/runtime-node:<digest>). The pinned refs go into the generated Dockerfile, so a changed
 * runtime image changes the function image digest. With `ensureImages` the images are built first
 * when missing; without it (a builder deployed on its own) they are the ones setup built, found in
 * the Docker engine by their `latest` tag. Resolved once per runtime per process.
 */
export function createImageResolver(options: ImageResolverOptions): ImageResolver {
  const cache = new Map<string, Promise<PlanImages>>();
  return (runtime, log) => {
    if (runtime === "container") return Promise.resolve({ run: "" });
    let pending = cache.get(runtime);
    if (!pending) {
      pending = resolve(options, runtime, log);
      cache.set(runtime, pending);
      pending.catch(() => cache.delete(runtime));
    }
    return pending;
  };
}

async function resolve(
  options: ImageResolverOptions,
  runtime: string,
  log: (line: string) => void,
): Promise<PlanImages> {
  const names = IMAGES[runtime];
  if (!names) throw new KumoError("FN_006", `the builder has no images for runtime "${runtime}"`);
  const python = names.python ? { python: names.python } : {};
  if (options.ensureImages) {
    const result = await options.ensureImages({
      only: [names.lang],
      log: (line) => log(`runtime images: ${line}`),
    });
    const run = result.images[names.run];
    const build = result.images[names.build];
    if (!result.ok || !run || !build) {
      throw new KumoError(
        "FN_008",
        `the ${runtime} runtime images could not be built: ${JSON.stringify(result.failed)}`,
      );
    }
    return { run, build, ...python };
  }
  const [run, build] = await Promise.all([
    pinnedRef(options.docker, names.run),
    pinnedRef(options.docker, names.build),
  ]);
  if (!run || !build) {
    throw new KumoError(
      "FN_008",
      `the ${runtime} runtime images are not on this builder's Docker engine; build them with \`node scripts/images.mjs --only ${names.lang}\` from a Kumo checkout`,
    );
  }
  return { run, build, ...python };
}

/** The pinned tag of the image `kumo/<name>:latest` points at, if it exists. */
async function pinnedRef(docker: Docker, name: string): Promise<string | undefined> {
  const info = await docker
    .getImage(`kumo/${name}:latest`)
    .inspect()
    .catch(() => undefined);
  return info?.RepoTags?.find((tag) => tag.startsWith(`kumo/${name}:`) && PINNED.test(tag));
}
