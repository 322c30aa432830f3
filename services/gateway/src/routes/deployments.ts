import { setTimeout as sleep } from "node:timers/promises";
import { invalid, notFound, parseOrThrow, redactUrl } from "@kumo/core";
import { normalizeSourcePath, readSourceArchive, type SourceFiles } from "@kumo/source";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { tenantAccess } from "../auth/access.ts";
import { actorOf } from "../auth/principal.ts";
import type { GatewayContext } from "../context.ts";
import { pageQuery } from "../http/pagination.ts";
import { presentDeployment } from "../http/presenters.ts";
import { openSse } from "../http/sse.ts";
import { checkDeployQuotas } from "../limits/management-quotas.ts";
import { functionParams, loadFunction } from "./function-lookup.ts";

const ARCHIVE_TYPES = [
  "application/gzip",
  "application/x-gzip",
  "application/x-tar",
  "application/tar",
  "application/octet-stream",
];

const filesDeployment = z.strictObject({
  files: z
    .record(z.string().min(1).max(500), z.string().max(5 * 1024 * 1024))
    .refine((f) => Object.keys(f).length > 0, "must hold at least one file"),
  config: z.record(z.string(), z.unknown()).optional(),
});

const gitDeployment = z.strictObject({
  source: z.strictObject({ git: z.string().min(1).max(2000), ref: z.string().max(200).optional() }),
});

const deploymentParams = functionParams.extend({
  id: z.string().regex(/^dep_[a-z0-9]{1,64}$/, "must be a deployment id (dep_...)"),
});

export function deploymentRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.addContentTypeParser(
      ARCHIVE_TYPES,
      { parseAs: "buffer", bodyLimit: ctx.config.bodyLimitBytes },
      (_req, body, done) => done(null, body),
    );

    app.post(
      "/v1/functions/:name/deployments",
      {
        bodyLimit: ctx.config.bodyLimitBytes,
        schema: {
          tags: ["deployments"],
          summary: "Deploy: a tar(.gz) upload, {files:{path:content}, config?} or {source:{git, ref}}",
          params: functionParams,
        },
      },
      async (request, reply) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "write");
        const fn = await loadFunction(store, request.params.name);
        await checkDeployQuotas(await ctx.quotas.limits(store.tenantId), store, fn, actorOf(principal));
        const { files, kind, note } = await sourceOf(request.body, ctx);
        const outcome = await ctx.deployer.deploy({
          store,
          fn,
          files,
          sourceKind: kind,
          actor: actorOf(principal),
          traceparent: request.trace?.traceparent,
          ...(note ? { note } : {}),
        });
        return reply.status(202).send(presentDeployment(outcome.deployment, true));
      },
    );

    app.get(
      "/v1/functions/:name/deployments",
      {
        schema: {
          tags: ["deployments"],
          summary: "List deployments",
          params: functionParams,
          querystring: pageQuery,
        },
      },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const fn = await loadFunction(store, request.params.name);
        const page = await store.deployments.list(fn.id, request.query);
        return { items: page.items.map((d) => presentDeployment(d)), nextCursor: page.nextCursor };
      },
    );

    app.get(
      "/v1/functions/:name/deployments/:id",
      {
        schema: {
          tags: ["deployments"],
          summary: "Deployment status and build log (?follow=1 streams it as server-sent events)",
          params: deploymentParams,
          querystring: z.object({ follow: z.enum(["0", "1", "true", "false"]).optional() }),
        },
      },
      async (request, reply) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const fn = await loadFunction(store, request.params.name);
        let deployment = await store.deployments.get(fn.id, request.params.id);
        if (!deployment) throw notFound(`deployment "${request.params.id}"`);
        const follow = request.query.follow === "1" || request.query.follow === "true";
        if (!follow) return presentDeployment(deployment, true);
        const sse = openSse(reply);
        let sent = 0;
        // Builds run elsewhere and append to the stored log; follow by polling until the deployment ends.
        while (!sse.closed.aborted) {
          for (const line of deployment.log.slice(sent).split("\n").filter(Boolean))
            sse.send("log", { line });
          sent = deployment.log.length;
          if (deployment.status === "succeeded" || deployment.status === "failed") break;
          await sleep(250);
          deployment = (await store.deployments.get(fn.id, request.params.id)) ?? deployment;
        }
        sse.send("status", presentDeployment(deployment));
        sse.end();
      },
    );
  };
}

async function sourceOf(
  body: unknown,
  ctx: GatewayContext,
): Promise<{ files: SourceFiles; kind: "upload" | "files" | "git"; note?: string }> {
  if (Buffer.isBuffer(body)) return { files: await readSourceArchive(body), kind: "upload" };
  if (body === undefined || body === null) {
    throw invalid(
      "send the source: a tar or tar.gz body (content-type application/gzip), or JSON {files:{path:content}}",
    );
  }
  // Choose the shape by its key, so problems are reported against the fields the caller meant.
  if (typeof body === "object" && "source" in body) {
    const { source } = parseOrThrow(gitDeployment, body, "deployment");
    const { files, commit } = await ctx.deployer.fetchGit(source.git, source.ref ?? "");
    return {
      files,
      kind: "git",
      note: `git ${redactUrl(source.git)}${source.ref ? ` ${source.ref}` : ""} at commit ${commit}`,
    };
  }
  const parsed = { data: parseOrThrow(filesDeployment, body, "deployment") };
  const files: SourceFiles = new Map();
  for (const [path, content] of Object.entries(parsed.data.files)) {
    files.set(normalizeSourcePath(path), Buffer.from(content, "utf8"));
  }
  if (parsed.data.config) files.set("kumo.json", Buffer.from(JSON.stringify(parsed.data.config)));
  return { files, kind: "files" };
}
