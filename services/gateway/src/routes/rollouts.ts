import { durationMs, KumoError, notFound, resourceName } from "@kumo/core";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { tenantAccess } from "../auth/access.ts";
import { actorOf } from "../auth/principal.ts";
import type { GatewayContext } from "../context.ts";
import { pageQuery } from "../http/pagination.ts";
import { presentRollout } from "../http/presenters.ts";
import { stepRouting } from "../rollouts/rollout-decision.ts";
import { functionParams, loadFunction } from "./function-lookup.ts";

const stepsSchema = z
  .array(z.number().int().min(1).max(100))
  .min(1)
  .max(20)
  .refine((s) => s.every((w, i) => i === 0 || w > (s[i - 1] ?? 0)), "weights must increase step by step")
  .refine((s) => s.at(-1) === 100, "the last step must be 100 (the new version takes all traffic)");

const createRollout = z.strictObject({
  to: z.number().int().min(1),
  steps: stepsSchema,
  interval: durationMs.pipe(
    z
      .number()
      .min(50, "must be at least 50ms")
      .max(7 * 86_400_000, "must be at most 7 days"),
  ),
  alias: resourceName.default("live"),
  maxErrorRate: z.number().min(0).max(1).default(0.05),
  minRequests: z.number().int().min(0).max(1_000_000).default(20),
});

const rolloutParams = functionParams.extend({ id: z.string().min(1).max(100) });

/**
 * Gradual rollouts: the new version's weight on an alias goes up step by step, every `interval`,
 * while its error rate stays under `maxErrorRate`; above it the alias goes back to the old version.
 * The RolloutDriver moves them; these routes start, show and cancel them.
 */
export function rolloutRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.post(
      "/v1/functions/:name/rollouts",
      {
        schema: {
          tags: ["versions"],
          summary: "Start a gradual rollout of a version on an alias (default live)",
          params: functionParams,
          body: createRollout,
        },
      },
      async (request, reply) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "write");
        const fn = await loadFunction(store, request.params.name);
        const body = request.body;
        const alias = await store.aliases.get(fn.id, body.alias);
        const from = alias ? [...alias.routing].sort((a, b) => b.weight - a.weight)[0]?.version : undefined;
        if (from === undefined) {
          throw new KumoError(
            "FN_006",
            `alias "${body.alias}" of "${fn.name}" does not exist yet; deploy (or PUT the alias) before rolling out`,
          );
        }
        if (!(await store.versions.get(fn.id, body.to))) {
          throw new KumoError("FN_006", `version ${body.to} of "${fn.name}" does not exist`, {
            details: { problems: [{ field: "body.to", rule: "exists", message: `no version ${body.to}` }] },
          });
        }
        if (body.to === from) {
          throw new KumoError(
            "FN_006",
            `alias "${body.alias}" already serves version ${from} (mostly); roll out a different version`,
          );
        }
        const actor = actorOf(principal);
        const now = new Date();
        const first = body.steps[0] ?? 100;
        const rollout = await store
          .transaction(async (tx) => {
            const created = await tx.rollouts.create(
              {
                functionId: fn.id,
                alias: body.alias,
                fromVersion: from,
                toVersion: body.to,
                steps: body.steps,
                intervalMs: body.interval,
                maxErrorRate: body.maxErrorRate,
                minRequests: body.minRequests,
                createdBy: actor,
              },
              now,
            );
            await tx.aliases.put(fn.id, body.alias, stepRouting(from, body.to, first), actor);
            await tx.audit.record(actor, "rollout.start", `function/${fn.name}@${body.alias}`, {
              rollout: created.id,
              from,
              to: body.to,
              steps: body.steps,
              intervalMs: body.interval,
            });
            if (first < 100) return created;
            return (
              (await tx.rollouts.transition(created.id, { status: "completed", finished_at: now })) ?? created
            );
          })
          .catch(async (error: unknown) => {
            if (!isUniqueViolation(error)) throw error;
            const running = (await store.rollouts.running(fn.id)).find((r) => r.alias === body.alias);
            throw new KumoError(
              "FN_006",
              `rollout ${running?.id ?? ""} is already running on "${fn.name}@${body.alias}"; cancel it first`,
              { status: 409, details: { rollout: running?.id } },
            );
          });
        ctx.changed(store.tenantId, fn.id);
        return reply.status(201).send(presentRollout(rollout));
      },
    );

    app.get(
      "/v1/functions/:name/rollouts",
      {
        schema: {
          tags: ["versions"],
          summary: "List rollouts, newest first",
          params: functionParams,
          querystring: pageQuery,
        },
      },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const fn = await loadFunction(store, request.params.name);
        const page = await store.rollouts.list(fn.id, request.query);
        return { items: page.items.map(presentRollout), nextCursor: page.nextCursor };
      },
    );

    app.get(
      "/v1/functions/:name/rollouts/:id",
      { schema: { tags: ["versions"], summary: "Get one rollout", params: rolloutParams } },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const fn = await loadFunction(store, request.params.name);
        const rollout = await store.rollouts.get(fn.id, request.params.id);
        if (!rollout) throw notFound(`rollout "${request.params.id}" of function "${fn.name}"`);
        return presentRollout(rollout);
      },
    );

    app.post(
      "/v1/functions/:name/rollouts/:id/cancel",
      {
        schema: {
          tags: ["versions"],
          summary: "Cancel a running rollout; the alias goes back to the old version",
          params: rolloutParams,
        },
      },
      async (request) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "write");
        const fn = await loadFunction(store, request.params.name);
        const existing = await store.rollouts.get(fn.id, request.params.id);
        if (!existing) throw notFound(`rollout "${request.params.id}" of function "${fn.name}"`);
        const actor = actorOf(principal);
        const now = new Date();
        const cancelled = await store.transaction(async (tx) => {
          const row = await tx.rollouts.transition(existing.id, {
            status: "cancelled",
            reason: "cancelled through the API",
            finished_at: now,
          });
          if (!row) return undefined;
          await tx.aliases.put(fn.id, row.alias, stepRouting(row.from_version, row.to_version, 0), actor);
          await tx.audit.record(actor, "rollout.cancel", `function/${fn.name}@${row.alias}`, {
            rollout: row.id,
            reason: row.reason,
          });
          return row;
        });
        if (!cancelled) {
          const now = await store.rollouts.get(fn.id, existing.id);
          throw new KumoError(
            "FN_006",
            `rollout ${existing.id} is ${now?.status ?? existing.status}; only a running rollout can be cancelled`,
            { status: 409 },
          );
        }
        ctx.changed(store.tenantId, fn.id);
        return presentRollout(cancelled);
      },
    );
  };
}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null && "code" in error && error.code === "23505";
}
