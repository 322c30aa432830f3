import { durationMs, envKey, invalid, KumoError, notFound, resourceName } from "@kumo/core";
import { ALERT_METRICS, type AlertEventRow, type AlertRulePatch, type AlertRuleWithFunction } from "@kumo/db";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { tenantAccess } from "../auth/access.ts";
import { actorOf } from "../auth/principal.ts";
import type { GatewayContext } from "../context.ts";
import { redactUrl } from "../http/presenters.ts";

const MAX_RULES_PER_TENANT = 100;
const HISTORY_IN_LIST = 5;
const HISTORY_IN_ONE = 50;

const ruleParams = z.object({
  id: z.string().regex(/^alr_[a-z0-9]{1,60}$/, "must be an alert rule id (alr_...)"),
});
const webhook = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }).max(2048),
  format: z.enum(["json", "slack"]).default("json"),
  /** Tenant secret whose value signs the body (HMAC-SHA256, header `kumo-signature`). */
  secret: envKey.optional(),
});
const windowMs = durationMs.pipe(
  z.number().int().min(60_000, "must be at least 1m").max(86_400_000, "must be at most 24h"),
);
const threshold = z.number().min(0).max(1e12);

const createRuleBody = z
  .strictObject({
    name: resourceName,
    /** A function of the tenant; absent: all of its functions together. */
    function: resourceName.optional(),
    metric: z.enum(ALERT_METRICS),
    threshold,
    window: windowMs.default(300_000),
    minInvocations: z.number().int().min(1).max(1_000_000).default(10),
    webhook,
    paused: z.boolean().default(false),
  })
  .superRefine((body, c) => {
    if (body.metric === "error_rate" && body.threshold > 1) {
      c.addIssue({ code: "custom", path: ["threshold"], message: "an error rate is a fraction from 0 to 1" });
    }
  });

const patchRuleBody = z.strictObject({
  metric: z.enum(ALERT_METRICS).optional(),
  threshold: threshold.optional(),
  window: windowMs.optional(),
  minInvocations: z.number().int().min(1).max(1_000_000).optional(),
  webhook: webhook.optional(),
  paused: z.boolean().optional(),
});

/**
 * Alert rules: a condition on a function's (or the tenant's) metrics over a window, evaluated by the
 * scheduler's leader, and the webhook told when it starts and stops holding. Listing shows each
 * rule's state and recent notifications.
 */
export function alertRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      "/v1/alerts",
      { schema: { tags: ["alerts"], summary: "Alert rules with their state and latest notifications" } },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const rules = await store.alertRules.list();
        const items = await Promise.all(
          rules.map(async (r) => presentRule(r, await store.alertRules.events(r.id, HISTORY_IN_LIST))),
        );
        return { items, nextCursor: null };
      },
    );

    app.post(
      "/v1/alerts",
      {
        schema: {
          tags: ["alerts"],
          summary:
            "Add an alert rule: {name, function?, metric: error_rate|p95_ms|throttles|dead_letters|failed_deploys, threshold, window, webhook}",
          body: createRuleBody,
        },
      },
      async (request, reply) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "write");
        const body = request.body;
        let functionId: string | null = null;
        if (body.function !== undefined) {
          const fn = await store.functions.byName(body.function);
          if (!fn) throw notFound(`function "${body.function}"`);
          functionId = fn.id;
        }
        if ((await store.alertRules.count()) >= MAX_RULES_PER_TENANT) {
          throw invalid(`a tenant can have at most ${MAX_RULES_PER_TENANT} alert rules`);
        }
        const created = await store.alertRules.create({
          functionId,
          name: body.name,
          metric: body.metric,
          threshold: body.threshold,
          windowMs: body.window,
          minInvocations: body.minInvocations,
          webhook: body.webhook,
          paused: body.paused,
          createdBy: actorOf(principal),
        });
        if (!created) {
          throw new KumoError("FN_006", `body.name: an alert rule named "${body.name}" exists already`, {
            status: 409,
          });
        }
        await store.audit.record(actorOf(principal), "alert.create", `alerts/${created.id}`, {
          name: body.name,
          metric: body.metric,
          threshold: body.threshold,
        });
        const rule = await store.alertRules.get(created.id);
        if (!rule) throw notFound(`alert rule "${created.id}"`);
        return reply.status(201).send(presentRule(rule, []));
      },
    );

    app.get(
      "/v1/alerts/:id",
      {
        schema: {
          tags: ["alerts"],
          summary: "One alert rule with its notification history",
          params: ruleParams,
        },
      },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const rule = await loadRule(store.alertRules, request.params.id);
        return presentRule(rule, await store.alertRules.events(rule.id, HISTORY_IN_ONE));
      },
    );

    app.patch(
      "/v1/alerts/:id",
      {
        schema: {
          tags: ["alerts"],
          summary: "Change an alert rule (a changed condition starts over as ok); pause or resume it",
          params: ruleParams,
          body: patchRuleBody,
        },
      },
      async (request) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "write");
        const current = await loadRule(store.alertRules, request.params.id);
        const body = request.body;
        const metric = body.metric ?? current.metric;
        const nextThreshold = body.threshold ?? current.threshold;
        if (metric === "error_rate" && nextThreshold > 1) {
          throw invalid("invalid request: body.threshold: an error rate is a fraction from 0 to 1", {
            problems: [
              { field: "body.threshold", rule: "range", message: "an error rate is a fraction from 0 to 1" },
            ],
          });
        }
        const patch: AlertRulePatch = {};
        if (body.metric !== undefined) patch.metric = body.metric;
        if (body.threshold !== undefined) patch.threshold = body.threshold;
        if (body.window !== undefined) patch.windowMs = body.window;
        if (body.minInvocations !== undefined) patch.minInvocations = body.minInvocations;
        if (body.webhook !== undefined) patch.webhook = body.webhook;
        if (body.paused !== undefined) patch.paused = body.paused;
        await store.alertRules.update(current.id, patch);
        await store.audit.record(actorOf(principal), "alert.update", `alerts/${current.id}`, {
          ...body,
          ...(body.webhook ? { webhook: { ...body.webhook, url: redactUrl(body.webhook.url) } } : {}),
        });
        const rule = await loadRule(store.alertRules, current.id);
        return presentRule(rule, await store.alertRules.events(rule.id, HISTORY_IN_LIST));
      },
    );

    app.delete(
      "/v1/alerts/:id",
      { schema: { tags: ["alerts"], summary: "Remove an alert rule and its history", params: ruleParams } },
      async (request, reply) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "write");
        const rule = await loadRule(store.alertRules, request.params.id);
        if (!(await store.alertRules.delete(rule.id))) throw notFound(`alert rule "${rule.id}"`);
        await store.audit.record(actorOf(principal), "alert.delete", `alerts/${rule.id}`);
        return reply.status(204).send();
      },
    );
  };
}

async function loadRule(
  rules: { get(id: string): Promise<AlertRuleWithFunction | undefined> },
  id: string,
): Promise<AlertRuleWithFunction> {
  const rule = await rules.get(id);
  if (!rule) throw notFound(`alert rule "${id}"`);
  return rule;
}

/** A rule as the API shows it: the webhook's URL as its origin only (webhook URLs carry credentials). */
function presentRule(r: AlertRuleWithFunction, history: readonly AlertEventRow[]) {
  return {
    id: r.id,
    name: r.name,
    function: r.function_name,
    metric: r.metric,
    threshold: r.threshold,
    windowMs: r.window_ms,
    minInvocations: r.min_invocations,
    webhook: { ...r.webhook, url: redactUrl(r.webhook.url) },
    paused: r.paused,
    state: {
      status: r.paused ? "paused" : r.state,
      since: r.state_since?.toISOString() ?? null,
      value: r.last_value,
      evaluatedAt: r.last_evaluated_at?.toISOString() ?? null,
      error: r.last_error,
    },
    history: history.map((e) => ({
      kind: e.kind,
      value: e.value,
      at: e.at.toISOString(),
      delivered: e.delivered,
      statusCode: e.status_code,
      error: e.error,
    })),
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}
