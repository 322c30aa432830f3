import { basename, resolve } from "node:path";
import { isErrorCode, KumoError, RESOURCE_NAME } from "@kumo/core";
import type { ApiClient } from "../api-client.ts";
import { apiPath } from "../api-path.ts";
import type { Deployment, FunctionInfo } from "../api-types.ts";
import type { Command, CommandContext } from "../command.ts";
import { usageError } from "../errors.ts";
import { followDeployment } from "../follow-deployment.ts";
import { bytes } from "../format.ts";
import { packDirectory } from "../pack-directory.ts";
import { readProjectConfig } from "../project-config.ts";

export const deployCommand: Command = {
  name: "deploy",
  summary: "Upload a function directory, build it and make it live",
  help: `Usage: kumo deploy [dir] [--name NAME]

Validates dir/kumo.json (default dir: .), creates the function if it does not exist, uploads the
directory as tar.gz and follows the build log until the new version is live.
node_modules/, .git/ and .kumo/ are never uploaded; list more globs in .kumoignore.

  --name NAME   function name (default: "name" in kumo.json, then the directory name)`,
  options: { name: { type: "string", short: "n" } },
  async run(context, args) {
    args.atMost(1);
    const dir = resolve(context.io.cwd, args.optional(0) ?? ".");
    const project = await readProjectConfig(dir);
    const name = functionName(args.string("name"), project.config.name, dir);
    const runtime = project.config.runtime;
    const client = await context.client();
    const { out, progress } = context;

    const { fn, created } = await ensureFunction(context, client, name, runtime, project.raw);
    if (fn.runtime !== runtime) {
      out.warn(`function ${name} was created with runtime ${fn.runtime}; kumo.json says ${runtime}`);
    }

    progress.start(`Packing ${dir}`);
    const pack = await packDirectory(dir);
    for (const { path, reason } of pack.skipped) progress.log(`skipped ${path}: ${reason}`);
    progress.done(`Packed ${pack.files.length} files (${bytes(pack.data.length)})`);

    progress.start(`Uploading ${name}`);
    const queued = await client.request<Deployment>("POST", apiPath`/v1/functions/${name}/deployments`, {
      body: { data: pack.data, contentType: "application/gzip" },
    });
    progress.start(`Building ${name} (deployment ${queued.id})`);
    const deployment = await followDeployment(client, name, queued.id, {
      onLog: (line) => progress.log(`  │ ${line}`),
    });
    progress.stop();

    if (deployment.status !== "succeeded") {
      const error = deployment.error;
      // The function this command created has no version to serve: remove it again, so a failed
      // first deploy leaves nothing behind (the next deploy creates it anew). An existing function
      // keeps serving its live version.
      const removed = created && (await removeFunction(client, name));
      throw new KumoError(
        error && isErrorCode(error.code) ? error.code : "FN_005",
        `${error?.message ?? `deployment ${deployment.id} ended as ${deployment.status}`}${removed ? `\n(function ${name} was created by this deploy and has been removed again)` : ""}`,
        { details: { deploymentId: deployment.id } },
      );
    }
    const live = await client.get<FunctionInfo>(apiPath`/v1/functions/${name}`).catch(() => fn);
    out.result({ name, version: deployment.version, url: live.url, created, deployment }, () => {
      out.line(`Deployed ${name} v${deployment.version ?? "?"}${created ? " (new function)" : ""}`);
      out.line(`URL: ${live.url}`);
    });
  },
};

function functionName(flag: string | undefined, fromConfig: string | undefined, dir: string): string {
  const name = flag ?? fromConfig ?? basename(dir);
  if (!RESOURCE_NAME.test(name)) {
    const origin = flag ? "--name" : fromConfig ? "kumo.json name" : `directory name "${basename(dir)}"`;
    throw usageError(
      `invalid function name "${name}" (from ${origin}): use lowercase letters, digits and '-', starting with a letter`,
      'pass --name or set "name" in kumo.json',
    );
  }
  return name;
}

/** Deletes a function; false when that failed (the caller's error is what matters then). */
async function removeFunction(client: ApiClient, name: string): Promise<boolean> {
  try {
    await client.request("DELETE", apiPath`/v1/functions/${name}`);
    return true;
  } catch {
    return false;
  }
}

async function ensureFunction(
  context: CommandContext,
  client: ApiClient,
  name: string,
  runtime: string,
  raw: Record<string, unknown>,
): Promise<{ fn: FunctionInfo; created: boolean }> {
  try {
    return { fn: await client.get<FunctionInfo>(apiPath`/v1/functions/${name}`), created: false };
  } catch (error) {
    if (!(error instanceof KumoError && error.code === "FN_001")) throw error;
  }
  context.progress.start(`Creating function ${name} (${runtime})`);
  const { $schema: _schema, name: _name, ...config } = raw;
  const fn = await client.request<FunctionInfo>("POST", "/v1/functions", { json: { name, runtime, config } });
  context.progress.done(`Created function ${name}`);
  return { fn, created: true };
}
