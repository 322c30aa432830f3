import type { SourceFiles } from "@kumo/source";

/** Runtimes the builder makes images for. */
export const BUILD_RUNTIMES = ["node", "bun", "deno", "python", "go", "container"] as const;
export type BuildRuntime = (typeof BUILD_RUNTIMES)[number];

export const isBuildRuntime = (value: string): value is BuildRuntime =>
  (BUILD_RUNTIMES as readonly string[]).includes(value);

/** Image refs (pinned by recipe digest) a plan builds on. */
export interface PlanImages {
  /** The runtime image the function image starts FROM. */
  run: string;
  /** The image dependencies are installed or code compiled in (a build stage), if any. */
  build?: string;
  /** Python runtimes: the interpreter of both images (default /usr/bin/python3.11). */
  python?: string;
}

export interface PlanInput {
  runtime: BuildRuntime;
  handler: string;
  files: SourceFiles;
  images: PlanImages;
  /** Whether the context carries kumo/ca.pem (extra CA certificates for installs). */
  withCa: boolean;
  labels: Record<string, string>;
  /** Labels of the function image only (last, so they never invalidate a cached layer). */
  imageLabels: Record<string, string>;
  /** The JSR registry deno's `jsr:` imports come from (KUMO_BUILD_JSR_URL); Deno's default, jsr.io, when unset. */
  jsrUrl?: string;
}

export interface BuildPlan {
  /** The Dockerfile, at kumo/Dockerfile in the context (the source is under src/). */
  dockerfile: string;
  /** Whether the function image has a /var/task code tree worth storing (not for custom images). */
  hasCodeTree: boolean;
  /** What the plan does, for the build log. */
  summary: string;
}

/** The paths of the context: source files go under src/, the builder's own files under kumo/. */
export const CONTEXT_SOURCE_DIR = "src";
export const CA_PATH_IN_STAGE = "/kumo-build/ca.pem";

/**
 * Generated Dockerfiles. Dependencies are installed in a build stage FROM a toolchain image (the
 * runtime images have no package manager), from a layer that copies only the manifest and lockfile:
 * the classic builder's cache then reuses it while only code changes, and the final stage copies
 * the result into /var/task before the code, so a code-only change rebuilds one small layer.
 * Nothing of the build stage (CA bundle, npm cache, pip) reaches the function image.
 */
export function planBuild(input: PlanInput): BuildPlan {
  const label = labelLine(input.labels);
  const handlerEnv = input.handler ? ` KUMO_HANDLER=${JSON.stringify(input.handler)}` : "";
  const has = (path: string) => input.files.has(path);
  const ca = (envs: string[]) => caLines(input.withCa, envs);
  const finalStage = (copies: string[]) => [
    `FROM ${input.images.run}`,
    label,
    ...copies,
    `COPY ["${CONTEXT_SOURCE_DIR}/", "/var/task/"]`,
    `ENV KUMO_CODE_DIR=/var/task${handlerEnv}`,
    labelLine(input.imageLabels),
  ];
  const join = (lines: string[]) => `${lines.filter(Boolean).join("\n")}\n`;

  switch (input.runtime) {
    case "node":
    case "bun":
    case "deno": {
      const entrypoints = input.runtime === "deno" ? denoRemoteEntrypoints(input.files) : [];
      if (entrypoints.length > 0) {
        // Remote imports (jsr:, https:, npm: specifiers): the image cannot fetch them at run time (no
        // network), so the build vendors the module graph of every source file into vendor/ and
        // node_modules/, where the runtime's --vendor reads it. That needs the code in the stage, so
        // a code change fetches again (Deno's lockfile, if uploaded, pins what it fetches).
        const jsr = input.jsrUrl ? ` JSR_URL=${JSON.stringify(input.jsrUrl)}` : "";
        const deno = "/usr/local/bin/deno";
        const manifests = ["package.json", "deno.json", "deno.jsonc"].some(has);
        const deps = [
          `FROM ${input.images.build ?? input.images.run} AS deps`,
          label,
          "USER 0:0",
          "WORKDIR /build/node_modules",
          "WORKDIR /build/vendor",
          "WORKDIR /build",
          ...ca(["DENO_CERT", "SSL_CERT_FILE"]),
          `ENV DENO_DIR=/tmp/deno-build${jsr}`,
          `COPY ["${CONTEXT_SOURCE_DIR}/", "/build/"]`,
          manifests ? `RUN ${JSON.stringify([deno, "install"])}` : "",
          `RUN ${JSON.stringify([deno, "install", "--vendor", "--allow-import", "--entrypoint", ...entrypoints])}`,
        ];
        const final = finalStage([
          "COPY --from=deps /build/node_modules /var/task/node_modules",
          "COPY --from=deps /build/vendor /var/task/vendor",
          // The function resolves jsr: through the registry it was vendored from.
          jsr ? `ENV${jsr}` : "",
        ]);
        const files = `${entrypoints.length} file${entrypoints.length === 1 ? "" : "s"}`;
        return {
          dockerfile: join([...deps, ...final]),
          hasCodeTree: true,
          summary: `dependencies: ${manifests ? "deno install, then " : ""}deno install --vendor (remote imports of ${files}, fetched at build)`,
        };
      }
      if (!has("package.json") && !has("deno.json") && !has("deno.jsonc")) {
        return { dockerfile: join(finalStage([])), hasCodeTree: true, summary: "no package.json: code only" };
      }
      const install = jsInstall(input.runtime, has);
      return {
        dockerfile: join([
          ...jsDependencyStage(input, install),
          ...finalStage(["COPY --from=deps /build/node_modules /var/task/node_modules"]),
        ]),
        hasCodeTree: true,
        summary: install.summary,
      };
    }
    case "python": {
      const manifest = has("requirements.txt")
        ? "requirements.txt"
        : has("pyproject.toml")
          ? "pyproject.toml"
          : undefined;
      if (!manifest)
        return {
          dockerfile: join(finalStage([])),
          hasCodeTree: true,
          summary: "no requirements.txt: code only",
        };
      const python = input.images.python ?? "/usr/bin/python3.11";
      const pip = [python, "-m", "pip", "install", "--target", "/build/.deps"];
      let copies: string[];
      let command: string[];
      if (manifest === "requirements.txt") {
        const local = localRequirementPaths(
          Buffer.from(input.files.get("requirements.txt") ?? []).toString("utf8"),
        );
        copies =
          local === undefined
            ? [`COPY ["${CONTEXT_SOURCE_DIR}/", "/build/"]`]
            : [
                `COPY ${JSON.stringify([`${CONTEXT_SOURCE_DIR}/requirements.txt`, "/build/"])}`,
                ...local
                  .filter((p) => has(p) || [...input.files.keys()].some((f) => f.startsWith(`${p}/`)))
                  .map((p) => `COPY ${JSON.stringify([`${CONTEXT_SOURCE_DIR}/${p}`, `/build/${p}`])}`),
              ];
        command = [...pip, "-r", "requirements.txt"];
      } else {
        // pyproject.toml: its [project].dependencies are installed, not the project itself (the code
        // is copied as it is; building it would need a build backend from PyPI). A pyproject.toml that
        // declares none (tool settings only) installs nothing. Decided in the stage, by Python's tomllib.
        copies = [`COPY ["${CONTEXT_SOURCE_DIR}/", "/build/"]`];
        command = [python, "-c", pyprojectInstall(pip.slice(1))];
      }
      const deps = [
        `FROM ${input.images.build ?? input.images.run} AS deps`,
        label,
        "WORKDIR /build/.deps",
        "WORKDIR /build",
        ...ca(["PIP_CERT", "SSL_CERT_FILE"]),
        // pip retries 5 times by default, with backoff; a TLS or 404 failure does not get better.
        "ENV PIP_RETRIES=2",
        ...copies,
        `RUN ${JSON.stringify(command)}`,
      ];
      return {
        dockerfile: join([...deps, ...finalStage(["COPY --from=deps /build/.deps/ /var/task/"])]),
        hasCodeTree: true,
        summary:
          manifest === "requirements.txt"
            ? "dependencies: pip install --target (requirements.txt)"
            : "dependencies: pip install --target ([project] dependencies of pyproject.toml, if any)",
      };
    }
    case "go": {
      const lines = [
        `FROM ${input.images.build ?? input.images.run} AS build`,
        label,
        ...ca(["SSL_CERT_FILE"]),
        `COPY ["${CONTEXT_SOURCE_DIR}/", "/src/"]`,
        'RUN ["kumo-go-build", "-src", "/src", "-out", "/out/function"]',
        `FROM ${input.images.run}`,
        label,
        "COPY --from=build /out/function /var/task/function",
        "ENV KUMO_CODE_DIR=/var/task",
        labelLine(input.imageLabels),
      ];
      return {
        dockerfile: join(lines),
        hasCodeTree: true,
        summary: "go: one static binary (kumo-go-build; modules from vendor/ or local replace)",
      };
    }
    case "container":
      return { dockerfile: "", hasCodeTree: false, summary: "custom image: the source's Dockerfile" };
  }
}

const DENO_CODE = /\.(?:[cm]?[jt]s|[jt]sx)$/;
/** An import or export of a jsr:, npm:, http: or https: specifier (static, dynamic or `import x =`). */
const REMOTE_SPECIFIER = /(?:\bfrom|\bimport)\s*\(?\s*["'](?:jsr:|npm:|https?:\/\/)/;
/** A jsr:, npm:, http: or https: target in deno.json's import map. */
const REMOTE_MAPPED = /:\s*"(?:jsr:|npm:|https?:\/\/)/;

/**
 * The source files of a deno function to vendor remote imports for: every code file (outside
 * node_modules/ and vendor/) when any file or deno.json's import map names a remote module, since a
 * bare specifier mapped to jsr: shows in no code file; none otherwise.
 */
export function denoRemoteEntrypoints(files: SourceFiles): string[] {
  const code = [...files.keys()]
    .filter((p) => DENO_CODE.test(p) && !/^(?:node_modules|vendor|\.git)\//.test(p) && SAFE_PATH.test(p))
    .sort();
  const text = (p: string) => Buffer.from(files.get(p) ?? []).toString("utf8");
  const mapped = ["deno.json", "deno.jsonc"].some((p) => files.has(p) && REMOTE_MAPPED.test(text(p)));
  return mapped || code.some((p) => REMOTE_SPECIFIER.test(text(p))) ? code : [];
}

/** A Python program for the build stage: pip installs pyproject.toml's dependencies, if it declares any. */
function pyprojectInstall(pipArgs: string[]): string {
  return [
    "import subprocess, sys, tomllib",
    'deps = tomllib.load(open("pyproject.toml", "rb")).get("project", {}).get("dependencies") or []',
    "if not deps:",
    '    print("pyproject.toml declares no dependencies ([project] dependencies): nothing to install")',
    "    sys.exit(0)",
    `print("installing pyproject.toml's dependencies:", ", ".join(deps), flush=True)`,
    `sys.exit(subprocess.call([sys.executable, ${pipArgs.map((a) => JSON.stringify(a)).join(", ")}, *deps]))`,
  ].join("\n");
}

/** Where an edge dependency image keeps the install (`node_modules` inside it). */
export const EDGE_DEPENDENCIES_DIR = "/build";

/**
 * The Dockerfile of an edge function's dependency install: the node runtime's dependency stage
 * alone (the same npm, CA and retry settings), with install scripts off, since nothing a script
 * builds (native addons, downloaded binaries) can run in an isolate. The image is only a cache of
 * the install; the builder copies node_modules out of it.
 */
export function planEdgeDependencies(
  input: Pick<PlanInput, "files" | "images" | "withCa" | "labels" | "imageLabels">,
): BuildPlan {
  const has = (path: string) => input.files.has(path);
  const install = jsInstall("node", has);
  const stage = jsDependencyStage(input, {
    ...install,
    command: [...install.command, "--ignore-scripts"],
  });
  return {
    dockerfile: `${[...stage, labelLine(input.imageLabels)].filter(Boolean).join("\n")}\n`,
    hasCodeTree: false,
    summary: `${install.summary.replace("dependencies: ", "edge dependencies: ")}, install scripts off`,
  };
}

/** The `deps` build stage of the JS runtimes: manifests in, `npm|bun|deno install` into /build/node_modules. */
function jsDependencyStage(
  input: Pick<PlanInput, "files" | "images" | "withCa" | "labels">,
  install: { manifests: string[]; command: string[]; env?: string },
): string[] {
  const present = install.manifests
    .filter((p) => input.files.has(p))
    .map((p) => `${CONTEXT_SOURCE_DIR}/${p}`);
  // Local packages (`"dep": "file:vendor/dep"`) are part of the install's input, so they go in too.
  const local = localPackagePaths(input.files).map(
    (p) => `COPY ${JSON.stringify([`${CONTEXT_SOURCE_DIR}/${p}`, `/build/${p}`])}`,
  );
  return [
    `FROM ${input.images.build ?? input.images.run} AS deps`,
    labelLine(input.labels),
    "USER 0:0",
    "WORKDIR /build/node_modules",
    "WORKDIR /build",
    ...caLines(input.withCa, ["NODE_EXTRA_CA_CERTS", "DENO_CERT", "SSL_CERT_FILE"]),
    install.env ? `ENV ${install.env}` : "",
    `COPY ${JSON.stringify([...present, "/build/"])}`,
    ...local,
    `RUN ${JSON.stringify(install.command)}`,
  ].filter(Boolean);
}

const DEPENDENCY_FIELDS = ["dependencies", "optionalDependencies", "devDependencies"] as const;

/**
 * The folders of package.json's `file:` dependencies inside the source (`file:./vendor/dep`), in a
 * stable order. Anything else (a tarball, a path outside the upload) is left to the installer's
 * own error.
 */
export function localPackagePaths(files: SourceFiles): string[] {
  const bytes = files.get("package.json");
  if (!bytes) return [];
  let manifest: unknown;
  try {
    manifest = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    return [];
  }
  if (typeof manifest !== "object" || manifest === null) return [];
  const paths = new Set<string>();
  for (const field of DEPENDENCY_FIELDS) {
    const deps = (manifest as Record<string, unknown>)[field];
    if (typeof deps !== "object" || deps === null) continue;
    for (const spec of Object.values(deps)) {
      if (typeof spec !== "string" || !spec.startsWith("file:")) continue;
      const path = spec
        .slice("file:".length)
        .replace(/^(\.\/)+/, "")
        .replace(/\/+$/, "");
      if (!SAFE_PATH.test(path) || path.split("/").includes("..")) continue;
      if ([...files.keys()].some((f) => f.startsWith(`${path}/`))) paths.add(path);
    }
  }
  return [...paths].sort();
}

function jsInstall(
  runtime: "node" | "bun" | "deno",
  has: (path: string) => boolean,
): { manifests: string[]; command: string[]; summary: string; env?: string } {
  if (runtime === "bun") {
    const locked = has("bun.lockb") || has("bun.lock");
    return {
      manifests: ["package.json", "bun.lockb", "bun.lock", "bunfig.toml"],
      command: ["/usr/local/bin/bun", "install", "--production", ...(locked ? ["--frozen-lockfile"] : [])],
      summary: `dependencies: bun install --production${locked ? " --frozen-lockfile" : ""}`,
    };
  }
  if (runtime === "deno") {
    return {
      manifests: ["package.json", "deno.json", "deno.jsonc", "deno.lock"],
      command: ["/usr/local/bin/deno", "install"],
      summary: "dependencies: deno install (into node_modules)",
    };
  }
  const locked = has("package-lock.json") || has("npm-shrinkwrap.json");
  const npm = ["/usr/local/bin/node", "/opt/kumo/npm/bin/npm-cli.js"];
  return {
    // npm's default backoff (10 s, then 60 s) makes a failing install (a certificate the build does
    // not trust, an unreachable registry) take over a minute; two quick retries still ride out a blip.
    // install-links: a `file:` package is installed as a copy, not a link to /build/<dir>, so what
    // its install script writes there reaches the function image with node_modules.
    env: "npm_config_fetch_retries=2 npm_config_fetch_retry_mintimeout=1000 npm_config_fetch_retry_maxtimeout=4000 npm_config_install_links=true",
    manifests: ["package.json", "package-lock.json", "npm-shrinkwrap.json", ".npmrc"],
    command: locked
      ? [...npm, "ci", "--omit=dev", "--no-audit", "--no-fund"]
      : [...npm, "install", "--omit=dev", "--no-audit", "--no-fund", "--no-package-lock"],
    summary: locked
      ? "dependencies: npm ci --omit=dev (package-lock.json)"
      : "dependencies: npm install --omit=dev (no lockfile)",
  };
}

const SAFE_PATH = /^[A-Za-z0-9._][A-Za-z0-9._/-]*$/;

/**
 * Local paths a requirements.txt installs from (`./wheels/x.whl`, `file:vendor/pkg`), so only they
 * and the requirements file go into the dependency layer; undefined when a line is too unusual to be
 * sure (then the whole source is copied, and code changes re-run pip).
 */
export function localRequirementPaths(text: string): string[] | undefined {
  const paths: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\s+#.*$/, "").trim();
    if (line === "" || line.startsWith("#")) continue;
    if (line.startsWith("-r") || line.startsWith("-c") || line.startsWith("-e")) return undefined;
    const path = line.replace(/^file:(\/\/)?/, "").replace(/^\.\//, "");
    const local = line.startsWith("./") || line.startsWith("file:") || /\.(whl|tar\.gz|zip)$/.test(line);
    if (!local) continue;
    if (!SAFE_PATH.test(path) || path.split("/").includes("..")) return undefined;
    // A directory install copies the directory; a file the file.
    paths.push(path.replace(/\/$/, ""));
  }
  return paths;
}

/** Copies the CA bundle into a build stage and points the tools' variables at it. */
function caLines(withCa: boolean, envs: string[]): string[] {
  if (!withCa) return [];
  return [
    `COPY ["kumo/ca.pem", "${CA_PATH_IN_STAGE}"]`,
    `ENV ${envs.map((e) => `${e}=${CA_PATH_IN_STAGE}`).join(" ")}`,
  ];
}

function labelLine(labels: Record<string, string>): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${JSON.stringify(k)}=${JSON.stringify(v)}`);
  return pairs.length === 0 ? "" : `LABEL ${pairs.join(" ")}`;
}
