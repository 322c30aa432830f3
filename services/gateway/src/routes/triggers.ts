import { cronInvocation } from "@kumo/bus";
import {
  CronSchedule,
  type DatabaseTriggerSettings,
  type FunctionConfig,
  invalid,
  isQueueSettings,
  KumoError,
  notFound,
  type TriggerSettings,
  zonedIso,
} from "@kumo/core";
import type { TriggerPatch, TriggerRow } from "@kumo/db";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { tenantAccess } from "../auth/access.ts";
import { actorOf } from "../auth/principal.ts";
import type { GatewayContext } from "../context.ts";
import { newTriggerFromSpec } from "../deploy/trigger-spec.ts";
import { presentTrigger } from "../http/presenters.ts";
import { functionParams, loadFunction } from "./function-lookup.ts";
import { createTriggerBody, KIND_FIELDS, patchTriggerBody, triggerParams } from "./trigger-schemas.ts";

const MAX_TRIGGERS_PER_FUNCTION = 50;

/** What runs a trigger that is not a schedule, for messages refusing schedule operations on it. */
const HOW_IT_RUNS = {
  event: "is an event trigger: it runs when an event arrives (POST /v1/events)",
  queue: "is a queue trigger: it runs when messages arrive on its queue (POST /v1/queues/:name/messages)",
  database: "is a database trigger: it runs when its tables change",
} as const;

/**
 * A function's triggers (cron and event): list, create, change (pause, resume, reschedule), delete,
 * fire now, and the next fire times. Triggers declared in kumo.json belong to its deploys: here
 * they can only be paused and resumed.
 */
export function triggerRoutes(ctx: GatewayContext): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      "/v1/functions/:name/triggers",
      {
        schema: {
          tags: ["triggers"],
          summary: "List a function's triggers with their state",
          params: functionParams,
        },
      },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const fn = await loadFunction(store, request.params.name);
        const rows = await store.triggers.list(fn.id);
        return { items: rows.map((t) => presentTrigger(t, fn.name)), nextCursor: null };
      },
    );

    app.post(
      "/v1/functions/:name/triggers",
      {
        schema: {
          tags: ["triggers"],
          summary:
            'Add a cron trigger (5 or 6 fields or @hourly-style, in an IANA time zone) or an event trigger ({type: "event", eventType: "user.*"})',
          params: functionParams,
          body: createTriggerBody,
        },
      },
      async (request, reply) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "write");
        const fn = await loadFunction(store, request.params.name);
        if ((await store.triggers.count(fn.id)) >= MAX_TRIGGERS_PER_FUNCTION) {
          throw invalid(`a function can have at most ${MAX_TRIGGERS_PER_FUNCTION} triggers`);
        }
        const body = request.body;
        const row = await store.triggers.create(
          newTriggerFromSpec(body, {
            functionId: fn.id,
            source: "api",
            createdBy: actorOf(principal),
            now: new Date(),
          }),
        );
        await store.audit.record(
          actorOf(principal),
          "trigger.create",
          triggerTarget(fn.name, row.id),
          auditDetail(row),
        );
        return reply.status(201).send(presentTrigger(row, fn.name));
      },
    );

    app.get(
      "/v1/functions/:name/triggers/:id",
      { schema: { tags: ["triggers"], summary: "One trigger with its state", params: triggerParams } },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const fn = await loadFunction(store, request.params.name);
        return presentTrigger(await loadTrigger(store.triggers, fn.id, request.params.id), fn.name);
      },
    );

    app.patch(
      "/v1/functions/:name/triggers/:id",
      {
        schema: {
          tags: ["triggers"],
          summary: "Change a trigger: pause or resume it, change its schedule, zone or policies",
          params: triggerParams,
          body: patchTriggerBody,
        },
      },
      async (request) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "write");
        const fn = await loadFunction(store, request.params.name);
        const current = await loadTrigger(store.triggers, fn.id, request.params.id);
        const body = request.body;
        if (current.source === "config") {
          const changed = Object.keys(body).filter((k) => k !== "paused");
          if (changed.length > 0) {
            throw new KumoError(
              "FN_006",
              `trigger ${current.id} is declared in kumo.json: change ${changed.join(", ")} there and deploy (here it can only be paused or resumed)`,
              { status: 409 },
            );
          }
        }
        refuseOtherKindFields(current, body);
        const patch: TriggerPatch = {};
        if (body.jitter !== undefined) patch.jitterMs = body.jitter;
        if (body.alert !== undefined) patch.alert = body.alert;
        const settings = patchedSettings(current, body);
        if (settings) patch.settings = settings;
        if (body.eventType !== undefined) patch.eventPattern = body.eventType;
        if (body.target !== undefined) patch.target = body.target;
        if (body.overlap !== undefined) patch.overlap = body.overlap;
        if (body.catchUp !== undefined) patch.catchUp = body.catchUp;
        if (body.catchUpWindow !== undefined) patch.catchUpWindowMs = body.catchUpWindow;
        if (body.paused !== undefined) patch.paused = body.paused;
        const rescheduled = body.schedule !== undefined || body.timezone !== undefined;
        const resumed = current.paused && body.paused === false;
        if (current.kind === "cron" && (rescheduled || resumed)) {
          const nextSchedule = body.schedule ?? current.schedule ?? "";
          const nextZone = body.timezone ?? current.timezone;
          const problem = CronSchedule.problem(nextSchedule, nextZone);
          if (problem) {
            throw invalid(`invalid request: body.${problem.field}: ${problem.message}`, {
              problems: [{ field: `body.${problem.field}`, rule: "cron", message: problem.message }],
            });
          }
          const parsed = CronSchedule.parse(nextSchedule, nextZone);
          if (body.schedule !== undefined) patch.schedule = parsed.schedule;
          if (body.timezone !== undefined) patch.timezone = nextZone;
          // Slots passed while paused (or under the old schedule) are not owed: start from now.
          patch.nextFireAt = parsed.next(new Date());
        }
        const row = await store.triggers.update(fn.id, current.id, patch);
        if (!row) throw notFound(`trigger "${current.id}"`);
        const action = resumed ? "trigger.resume" : body.paused === true ? "trigger.pause" : "trigger.update";
        await store.audit.record(actorOf(principal), action, triggerTarget(fn.name, row.id), body);
        return presentTrigger(row, fn.name);
      },
    );

    app.delete(
      "/v1/functions/:name/triggers/:id",
      { schema: { tags: ["triggers"], summary: "Remove a trigger", params: triggerParams } },
      async (request, reply) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "write");
        const fn = await loadFunction(store, request.params.name);
        const current = await loadTrigger(store.triggers, fn.id, request.params.id);
        if (current.source === "config") {
          throw new KumoError(
            "FN_006",
            `trigger ${current.id} is declared in kumo.json: remove it there and deploy (or pause it)`,
            { status: 409 },
          );
        }
        if (!(await store.triggers.delete(fn.id, current.id))) throw notFound(`trigger "${current.id}"`);
        await store.audit.record(actorOf(principal), "trigger.delete", triggerTarget(fn.name, current.id));
        return reply.status(204).send();
      },
    );

    app.post(
      "/v1/functions/:name/triggers/:id/fire",
      {
        schema: {
          tags: ["triggers"],
          summary: "Fire a trigger now (async; the event says manual: true)",
          params: triggerParams,
        },
      },
      async (request, reply) => {
        const { store, principal } = tenantAccess(ctx.platform, request, "invoke");
        const fn = await loadFunction(store, request.params.name);
        const trigger = await loadTrigger(store.triggers, fn.id, request.params.id);
        if (trigger.kind !== "cron") throw invalid(`trigger ${trigger.id} ${HOW_IT_RUNS[trigger.kind]}`);
        if (!ctx.asyncQueue) {
          throw new KumoError(
            "FN_008",
            "firing a trigger needs NATS with JetStream, which this gateway runs without",
          );
        }
        const resolved = await ctx.resolver.resolve(
          store.tenantId,
          principal.tenantName,
          `${fn.name}@${trigger.target}`,
        );
        const deployed = await ctx.resolver.target(resolved);
        const now = new Date();
        const { request: invocation, msgId } = cronInvocation(
          {
            triggerId: trigger.id,
            scheduledAt: now,
            firedAt: now,
            lastScheduledAt: trigger.last_scheduled_at,
            manual: true,
          },
          (resolved.version.config as FunctionConfig).timeoutMs,
        );
        const queued = await ctx.asyncQueue.enqueue(resolved, deployed, invocation, undefined, {
          msgId,
          triggerId: trigger.id,
        });
        await store.triggers.recordManualFire(trigger.id, queued.invocationId, now);
        await store.audit.record(actorOf(principal), "trigger.fire", triggerTarget(fn.name, trigger.id), {
          invocationId: queued.invocationId,
        });
        return reply.status(202).send({
          invocationId: queued.invocationId,
          status: "queued",
          triggerId: trigger.id,
          scheduledAt: now.toISOString(),
          version: resolved.version.version,
        });
      },
    );

    app.get(
      "/v1/functions/:name/triggers/:id/next",
      {
        schema: {
          tags: ["triggers"],
          summary: "The trigger's next fire times, in UTC and in its zone",
          params: triggerParams,
          querystring: z.object({ count: z.coerce.number().int().min(1).max(100).default(5) }),
        },
      },
      async (request) => {
        const { store } = tenantAccess(ctx.platform, request, "read");
        const fn = await loadFunction(store, request.params.name);
        const trigger = await loadTrigger(store.triggers, fn.id, request.params.id);
        if (trigger.kind !== "cron") throw invalid(`trigger ${trigger.id} ${HOW_IT_RUNS[trigger.kind]}`);
        if (trigger.schedule === null) throw invalid(`trigger ${trigger.id} has no schedule`);
        const parsed = CronSchedule.parse(trigger.schedule, trigger.timezone);
        const runs = parsed.nextRuns(request.query.count, new Date());
        return {
          triggerId: trigger.id,
          schedule: trigger.schedule,
          timezone: trigger.timezone,
          paused: trigger.paused,
          items: runs.map((at) => ({ at: at.toISOString(), local: zonedIso(at, trigger.timezone) })),
        };
      },
    );
  };
}

/** PATCH fields of another kind (a schedule for an event trigger, a batch size for a cron one): 400 naming them. */
function refuseOtherKindFields(current: TriggerRow, body: Record<string, unknown>): void {
  const own: readonly string[] = KIND_FIELDS[current.kind];
  const foreign = Object.values(KIND_FIELDS)
    .flat()
    .filter((k) => !own.includes(k));
  const given = foreign.filter((k) => body[k] !== undefined);
  if (given.length === 0) return;
  const article = current.kind === "event" ? "an" : "a";
  const message = `${article} ${current.kind} trigger has no ${given.join(", ")}`;
  throw invalid(`invalid request: ${given.map((k) => `body.${k}`).join(", ")}: ${message}`, {
    problems: given.map((k) => ({ field: `body.${k}`, rule: "trigger-kind", message })),
  });
}

/** A queue or database trigger's settings with the PATCH applied (undefined: nothing changed). */
function patchedSettings(
  current: TriggerRow,
  body: z.output<typeof patchTriggerBody>,
): TriggerSettings | undefined {
  const settings = current.settings;
  if (!settings) return undefined;
  if (isQueueSettings(settings)) {
    if (
      body.batchSize === undefined &&
      body.batchWindow === undefined &&
      body.ordered === undefined &&
      body.maxDeliveries === undefined
    ) {
      return undefined;
    }
    return {
      ...settings,
      batchSize: body.batchSize ?? settings.batchSize,
      batchWindowMs: body.batchWindow ?? settings.batchWindowMs,
      ordered: body.ordered ?? settings.ordered,
      maxDeliveries: body.maxDeliveries ?? settings.maxDeliveries,
    };
  }
  if (body.events === undefined && body.columns === undefined && body.filter === undefined) return undefined;
  const next: DatabaseTriggerSettings = { ...settings, events: body.events ?? settings.events };
  if (body.columns === null) delete next.columns;
  else if (body.columns !== undefined) next.columns = body.columns;
  if (body.filter === null) delete next.filter;
  else if (body.filter !== undefined) next.filter = body.filter;
  return next;
}

/** What the audit log keeps of a new trigger: its definition, never a secret's value (only names). */
function auditDetail(row: TriggerRow): Record<string, unknown> {
  switch (row.kind) {
    case "cron":
      return { schedule: row.schedule, timezone: row.timezone };
    case "event":
      return { eventType: row.event_pattern };
    default:
      return { type: row.kind, settings: row.settings };
  }
}

async function loadTrigger(
  triggers: { get(functionId: string, id: string): Promise<TriggerRow | undefined> },
  functionId: string,
  id: string,
): Promise<TriggerRow> {
  const row = await triggers.get(functionId, id);
  if (!row) throw notFound(`trigger "${id}"`);
  return row;
}

function triggerTarget(functionName: string, id: string): string {
  return `function/${functionName}/triggers/${id}`;
}
