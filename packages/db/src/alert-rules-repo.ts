import { newId } from "@kumo/core";
import type { Kysely, Updateable } from "kysely";
import type {
  AlertEventRow,
  AlertMetric,
  AlertRuleRow,
  AlertRulesTable,
  AlertWebhook,
  Database,
} from "./schema.ts";

export interface NewAlertRule {
  functionId: string | null;
  name: string;
  metric: AlertMetric;
  threshold: number;
  windowMs: number;
  minInvocations: number;
  webhook: AlertWebhook;
  paused: boolean;
  createdBy: string | null;
}

export type AlertRulePatch = Partial<Omit<NewAlertRule, "functionId" | "name" | "createdBy">>;

/** An alert rule with the name of the function it watches (null: the whole tenant). */
export interface AlertRuleWithFunction extends AlertRuleRow {
  function_name: string | null;
}

/** A tenant's alert rules and their history. */
export class AlertRulesRepo {
  readonly #db: Kysely<Database>;
  readonly #tenantId: string;

  constructor(db: Kysely<Database>, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  async list(): Promise<AlertRuleWithFunction[]> {
    return this.#select().orderBy("r.name").execute();
  }

  async get(id: string): Promise<AlertRuleWithFunction | undefined> {
    return this.#select().where("r.id", "=", id).executeTakeFirst();
  }

  async count(): Promise<number> {
    const row = await this.#db
      .selectFrom("alert_rules")
      .select((eb) => eb.fn.countAll<string>().as("n"))
      .where("tenant_id", "=", this.#tenantId)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /** Undefined when the tenant has a rule of that name already. */
  async create(input: NewAlertRule): Promise<AlertRuleRow | undefined> {
    return this.#db
      .insertInto("alert_rules")
      .values({
        id: newId("alr"),
        tenant_id: this.#tenantId,
        function_id: input.functionId,
        name: input.name,
        metric: input.metric,
        threshold: input.threshold,
        window_ms: input.windowMs,
        min_invocations: input.minInvocations,
        webhook: JSON.stringify(input.webhook),
        paused: input.paused,
        created_by: input.createdBy,
      })
      .onConflict((oc) => oc.columns(["tenant_id", "name"]).doNothing())
      .returningAll()
      .executeTakeFirst();
  }

  /** A changed condition starts over from "ok" (its old verdict was about another question). */
  async update(id: string, patch: AlertRulePatch): Promise<AlertRuleRow | undefined> {
    const set: Updateable<AlertRulesTable> = { updated_at: new Date() };
    if (patch.metric !== undefined) set.metric = patch.metric;
    if (patch.threshold !== undefined) set.threshold = patch.threshold;
    if (patch.windowMs !== undefined) set.window_ms = patch.windowMs;
    if (patch.minInvocations !== undefined) set.min_invocations = patch.minInvocations;
    if (patch.webhook !== undefined) set.webhook = JSON.stringify(patch.webhook);
    if (patch.paused !== undefined) set.paused = patch.paused;
    const conditionChanged =
      patch.metric !== undefined ||
      patch.threshold !== undefined ||
      patch.windowMs !== undefined ||
      patch.minInvocations !== undefined;
    if (conditionChanged || patch.paused === true) {
      set.state = "ok";
      set.state_since = null;
    }
    return this.#db
      .updateTable("alert_rules")
      .set(set)
      .where("tenant_id", "=", this.#tenantId)
      .where("id", "=", id)
      .returningAll()
      .executeTakeFirst();
  }

  async delete(id: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom("alert_rules")
      .where("tenant_id", "=", this.#tenantId)
      .where("id", "=", id)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /** A rule's notifications, newest first. */
  async events(ruleId: string, limit: number): Promise<AlertEventRow[]> {
    return this.#db
      .selectFrom("alert_events")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .where("rule_id", "=", ruleId)
      .orderBy("at", "desc")
      .orderBy("id", "desc")
      .limit(limit)
      .execute();
  }

  #select() {
    return this.#db
      .selectFrom("alert_rules as r")
      .leftJoin("functions as f", (j) =>
        j.onRef("f.id", "=", "r.function_id").onRef("f.tenant_id", "=", "r.tenant_id"),
      )
      .selectAll("r")
      .select("f.name as function_name")
      .where("r.tenant_id", "=", this.#tenantId);
  }
}

/** A rule the leader evaluates, with its tenant's name (for notifications). */
export interface EvaluatedRule extends AlertRuleWithFunction {
  tenant_name: string;
}

/** The scheduler leader's view of every tenant's alert rules. */
export class AlertRuleEvaluations {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Unpaused rules whose last evaluation is older than `evaluatedBefore`, oldest first. */
  async due(evaluatedBefore: Date, limit: number): Promise<EvaluatedRule[]> {
    return this.#db
      .selectFrom("alert_rules as r")
      .innerJoin("tenants as t", "t.id", "r.tenant_id")
      .leftJoin("functions as f", (j) =>
        j.onRef("f.id", "=", "r.function_id").onRef("f.tenant_id", "=", "r.tenant_id"),
      )
      .selectAll("r")
      .select(["f.name as function_name", "t.name as tenant_name"])
      .where("r.paused", "=", false)
      .where((eb) =>
        eb.or([eb("r.last_evaluated_at", "is", null), eb("r.last_evaluated_at", "<", evaluatedBefore)]),
      )
      .orderBy("r.last_evaluated_at", (o) => o.asc().nullsFirst())
      .limit(limit)
      .execute();
  }

  /**
   * Records a verdict. The state changes only from the one the decision was made on (compare and
   * set), so a verdict of a leader that lost its lease without noticing changes nothing.
   */
  async verdict(
    rule: AlertRuleRow,
    next: { state: AlertRuleRow["state"]; value: number | null; error: string | null; at: Date },
  ): Promise<boolean> {
    const result = await this.#db
      .updateTable("alert_rules")
      .set({
        state: next.state,
        last_value: next.value,
        last_error: next.error,
        last_evaluated_at: next.at,
        ...(next.state !== rule.state ? { state_since: next.at } : {}),
      })
      .where("id", "=", rule.id)
      .where("state", "=", rule.state)
      .where("paused", "=", false)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async recordEvent(
    rule: AlertRuleRow,
    event: {
      kind: "firing" | "resolved";
      value: number | null;
      delivered: boolean;
      statusCode?: number;
      error?: string;
    },
  ): Promise<void> {
    await this.#db
      .insertInto("alert_events")
      .values({
        id: newId("ale"),
        tenant_id: rule.tenant_id,
        rule_id: rule.id,
        kind: event.kind,
        value: event.value,
        delivered: event.delivered,
        status_code: event.statusCode ?? null,
        error: event.error ?? null,
      })
      .execute();
  }

  /** Deployments of the tenant (or one function) that failed since `from`. */
  async failedDeploys(tenantId: string, functionId: string | null, from: Date): Promise<number> {
    let query = this.#db
      .selectFrom("deployments")
      .select((eb) => eb.fn.countAll<string>().as("n"))
      .where("tenant_id", "=", tenantId)
      .where("status", "=", "failed")
      .where("created_at", ">=", from);
    if (functionId) query = query.where("function_id", "=", functionId);
    const row = await query.executeTakeFirst();
    return Number(row?.n ?? 0);
  }
}
