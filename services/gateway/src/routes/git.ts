import { gunzipSync } from "node:zlib";
import { denied, KumoError, notFound, toKumoError } from "@kumo/core";
import { readSourceArchive } from "@kumo/source";
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import { tenantAccess } from "../auth/access.ts";
import { actorOf } from "../auth/principal.ts";
import type { GatewayContext } from "../context.ts";
import { GitRepos } from "../git/git-repos.ts";
import { FLUSH_PKT, parseReceiveCommands, pktLine, sidebandProgress } from "../git/pkt-line.ts";
import { handleError } from "../http/error-handler.ts";
import { checkDeployQuotas } from "../limits/management-quotas.ts";

const SERVICES = ["git-receive-pack", "git-upload-pack"] as const;
type GitService = (typeof SERVICES)[number];
const DEFAULT_BRANCHES = new Set(["refs/heads/main", "refs/heads/master"]);
const ZERO_ID = /^0+$/;
const MAX_PUSH_BYTES = 100 * 1024 * 1024;

interface RepoParams {
  tenant: string;
  repo: string;
}

/**
 * `/git/:tenant/:function.git`: a git smart-HTTP remote per function. HTTP Basic auth with an API
 * key as the password; fetch needs a viewer key, push a developer key. A push to main (or master)
 * builds and deploys that commit, and the build log comes back as git progress ("remote: ...").
 */
export function gitRoutes(ctx: GatewayContext): FastifyPluginAsync {
  const repos = new GitRepos(ctx.config.dataDir);

  return async (app) => {
    app.addContentTypeParser(
      ["application/x-git-receive-pack-request", "application/x-git-upload-pack-request"],
      { parseAs: "buffer", bodyLimit: MAX_PUSH_BYTES },
      (_req, body, done) => done(null, body),
    );
    // git retries with credentials only after a 401 that asks for Basic auth.
    app.setErrorHandler((error, request, reply) => {
      const failure = error instanceof KumoError ? error : toKumoError(error);
      if (failure.code === "FN_009" && failure.status === 401)
        reply.header("www-authenticate", 'Basic realm="Kumo", charset="UTF-8"');
      handleError(failure, request, reply);
    });

    app.get<{ Params: RepoParams; Querystring: { service?: string } }>(
      "/git/:tenant/:repo/info/refs",
      async (request, reply) => {
        const service = request.query.service;
        if (!isService(service)) {
          throw new KumoError("FN_006", "only git's smart HTTP protocol is served (git 1.6.6 or newer)");
        }
        const { repo } = await openRepo(
          ctx,
          repos,
          request,
          service === "git-receive-pack" ? "write" : "read",
        );
        const advertisement = await repos.service(serviceName(service), repo);
        return reply
          .header("content-type", `application/x-${service}-advertisement`)
          .header("cache-control", "no-cache")
          .send(Buffer.concat([pktLine(`# service=${service}\n`), FLUSH_PKT, advertisement]));
      },
    );

    app.post<{ Params: RepoParams; Body: Buffer }>(
      "/git/:tenant/:repo/git-upload-pack",
      async (request, reply) => {
        const { repo } = await openRepo(ctx, repos, request, "read");
        const output = await repos.service("upload-pack", repo, requestBody(request));
        return reply
          .header("content-type", "application/x-git-upload-pack-result")
          .header("cache-control", "no-cache")
          .send(output);
      },
    );

    app.post<{ Params: RepoParams; Body: Buffer }>(
      "/git/:tenant/:repo/git-receive-pack",
      async (request, reply) => {
        const { repo, store, fn, actor } = await openRepo(ctx, repos, request, "write");
        const body = requestBody(request);
        const { updates, capabilities } = parseReceiveCommands(body);
        const output = await repos.service("receive-pack", repo, body);
        const sideband = capabilities.includes("side-band-64k") || capabilities.includes("side-band");
        const deploy = updates.find((u) => DEFAULT_BRANCHES.has(u.ref) && !ZERO_ID.test(u.newId));
        const accepted = deploy ? (await repos.resolve(repo, deploy.ref)) === deploy.newId : false;
        reply.hijack();
        const raw = reply.raw;
        raw.writeHead(200, {
          "content-type": "application/x-git-receive-pack-result",
          "cache-control": "no-cache",
        });
        if (!deploy || !accepted || !sideband) {
          raw.end(output);
          if (deploy && accepted)
            void deployCommit(ctx, repos, { repo, store, fn, actor, commit: deploy.newId });
          return;
        }
        // receive-pack's answer ends with a flush-pkt; progress goes in before it, on channel 2.
        const ends = output.length >= 4 && output.subarray(-4).equals(FLUSH_PKT);
        raw.write(ends ? output.subarray(0, -4) : output);
        const say = (line: string) => {
          if (!raw.destroyed) raw.write(sidebandProgress(`${line}\n`));
        };
        say(
          `kumo: deploying ${deploy.newId.slice(0, 12)} (${deploy.ref.replace("refs/heads/", "")}) to ${fn.name}`,
        );
        const finished = await deployCommit(ctx, repos, {
          repo,
          store,
          fn,
          actor,
          commit: deploy.newId,
          onLog: say,
        });
        if (finished.ok) {
          say(`kumo: deployment ${finished.deploymentId} succeeded: version ${finished.version} is live`);
          say(`kumo: ${ctx.publicUrl()}/fn/${finished.tenantName}/${fn.name}/`);
        } else {
          say(
            `kumo: deployment ${finished.deploymentId ?? "(none)"} failed: ${finished.code}: ${finished.message.split("\n")[0]}`,
          );
        }
        raw.end(FLUSH_PKT);
      },
    );
  };
}

interface OpenRepo {
  repo: string;
  store: ReturnType<typeof tenantAccess>["store"];
  fn: Awaited<ReturnType<ReturnType<typeof tenantAccess>["store"]["functions"]["byName"]>> & object;
  actor: string;
  tenantName: string;
}

async function openRepo(
  ctx: GatewayContext,
  repos: GitRepos,
  request: FastifyRequest<{ Params: RepoParams }>,
  action: "read" | "write",
): Promise<OpenRepo> {
  request.principal = await ctx.auth.authenticate(basicAsBearer(request.headers.authorization));
  const { store, principal } = tenantAccess(ctx.platform, request, action);
  const name = request.params.repo.replace(/\.git$/, "");
  // Another tenant's remote is "not found", like everything of another tenant.
  if (principal.tenantName !== request.params.tenant)
    throw notFound(`git remote "${request.params.tenant}/${name}"`);
  const fn = await store.functions.byName(name);
  if (!fn) throw notFound(`function "${name}"`);
  const repo = await repos.ensure(principal.tenantId, fn.id);
  return { repo, store, fn, actor: actorOf(principal), tenantName: principal.tenantName };
}

/** git sends `Basic base64(user:password)`; the password is the API key, the user name is ignored. */
function basicAsBearer(header: string | undefined): string | undefined {
  if (!header) throw denied("git needs an API key: use it as the password (any user name)", 401);
  const match = /^Basic\s+(.+)$/i.exec(header);
  if (!match?.[1]) return header;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const key = decoded.slice(decoded.indexOf(":") + 1);
  if (!key) throw denied("git needs an API key: use it as the password (any user name)", 401);
  return `Bearer ${key}`;
}

function requestBody(request: FastifyRequest): Buffer {
  const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  return request.headers["content-encoding"] === "gzip"
    ? gunzipSync(body, { maxOutputLength: MAX_PUSH_BYTES })
    : body;
}

function isService(value: string | undefined): value is GitService {
  return (SERVICES as readonly string[]).includes(value ?? "");
}

function serviceName(service: GitService): "receive-pack" | "upload-pack" {
  return service === "git-receive-pack" ? "receive-pack" : "upload-pack";
}

type DeployResult =
  | { ok: true; deploymentId: string; version: number; tenantName: string }
  | { ok: false; deploymentId: string | undefined; code: string; message: string };

/** Builds and deploys one pushed commit; reports instead of throwing (the push itself succeeded). */
async function deployCommit(
  ctx: GatewayContext,
  repos: GitRepos,
  input: {
    repo: string;
    store: OpenRepo["store"];
    fn: OpenRepo["fn"];
    actor: string;
    commit: string;
    onLog?: (line: string) => void;
  },
): Promise<DeployResult> {
  try {
    await checkDeployQuotas(
      await ctx.quotas.limits(input.store.tenantId),
      input.store,
      input.fn,
      input.actor,
    );
    const files = await readSourceArchive(await repos.archive(input.repo, input.commit));
    const outcome = await ctx.deployer.deploy({
      store: input.store,
      fn: input.fn,
      files,
      sourceKind: "push",
      actor: input.actor,
      note: `git push: commit ${input.commit}`,
      ...(input.onLog ? { onLog: input.onLog } : {}),
    });
    const done = await outcome.done;
    if (done.status === "succeeded" && done.version !== null) {
      const tenant = await ctx.platform.tenantById(input.store.tenantId);
      return { ok: true, deploymentId: done.id, version: done.version, tenantName: tenant?.name ?? "" };
    }
    return {
      ok: false,
      deploymentId: done.id,
      code: done.error_code ?? "FN_005",
      message: done.error_message ?? "failed",
    };
  } catch (error) {
    const failure = toKumoError(error);
    const details = failure.details as { deploymentId?: string } | undefined;
    return { ok: false, deploymentId: details?.deploymentId, code: failure.code, message: failure.message };
  }
}
