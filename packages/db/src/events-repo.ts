import { type Kysely, sql } from "kysely";
import { decodeCursor, type Page, type PageOptions, toPage } from "./cursor.ts";
import type { Database, EventRow, InvocationStatus, TriggerRow } from "./schema.ts";

/** An event trigger with the name of its function, as the publish path matches it. */
export interface EventSubscriber extends TriggerRow {
  function_name: string;
}

/** One delivery of an event, with the outcome its invocation record shows (null: not recorded yet). */
export interface EventDelivery {
  event_id: string;
  trigger_id: string;
  function_name: string | null;
  invocation_id: string;
  status: InvocationStatus | null;
  attempts: number | null;
  error_code: string | null;
}

export interface NewEventDelivery {
  triggerId: string;
  functionId: string;
  invocationId: string;
}

/** A tenant's published events and their fan-out. */
export class EventsRepo {
  readonly #db: Kysely<Database>;
  readonly #tenantId: string;

  constructor(db: Kysely<Database>, tenantId: string) {
    this.#db = db;
    this.#tenantId = tenantId;
  }

  /** The tenant's unpaused event triggers; the caller matches their patterns against a type. */
  async subscribers(): Promise<EventSubscriber[]> {
    return this.#db
      .selectFrom("triggers as t")
      .innerJoin("functions as f", (j) =>
        j.onRef("f.id", "=", "t.function_id").onRef("f.tenant_id", "=", "t.tenant_id"),
      )
      .selectAll("t")
      .select("f.name as function_name")
      .where("t.tenant_id", "=", this.#tenantId)
      .where("t.kind", "=", "event")
      .where("t.paused", "=", false)
      .orderBy("t.id")
      .execute();
  }

  async get(id: string): Promise<EventRow | undefined> {
    return this.#db
      .selectFrom("events")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .where("id", "=", id)
      .executeTakeFirst();
  }

  /**
   * Stores a published event and its deliveries, and marks each delivering trigger as fired (its
   * state shows the latest delivery, whose outcome the scheduler copies in). One statement: the
   * event and its deliveries are stored together or not at all, without a transaction's round
   * trips. A concurrent publish of the same id stored them already (with the same derived
   * invocation ids): nothing changes then. A trigger's state never goes back to an older event,
   * and a trigger whose state another publish is writing at this moment is left to it (SKIP
   * LOCKED): concurrent events to the same subscribers neither wait for each other nor deadlock,
   * and the state shows one of the latest deliveries.
   */
  async record(
    event: { id: string; type: string; data: unknown; publishedAt: Date; publishedBy: string | null },
    deliveries: readonly NewEventDelivery[],
  ): Promise<void> {
    const data = event.data === undefined ? null : JSON.stringify(event.data);
    const inserted = sql`insert into events (tenant_id, id, type, data, published_at, published_by)
      values (${this.#tenantId}, ${event.id}, ${event.type}, ${data}::jsonb, ${event.publishedAt}, ${event.publishedBy})
      on conflict do nothing returning id`;
    if (deliveries.length === 0) {
      await inserted.execute(this.#db);
      return;
    }
    const rows = deliveries.map(
      (d) => sql`(${d.triggerId}::text, ${d.functionId}::text, ${d.invocationId}::text)`,
    );
    await sql`with event as (${inserted}),
      d(trigger_id, function_id, invocation_id) as (values ${sql.join(rows)}),
      delivered as (
        insert into event_deliveries (tenant_id, event_id, trigger_id, function_id, invocation_id)
        select ${this.#tenantId}, ${event.id}, trigger_id, function_id, invocation_id from d
        where exists (select 1 from event)
        on conflict do nothing),
      claimed as (
        select t.id from triggers t
        where t.tenant_id = ${this.#tenantId} and t.id in (select trigger_id from d)
          and exists (select 1 from event)
          and (t.last_fired_at is null or t.last_fired_at <= ${event.publishedAt})
        for update skip locked)
      update triggers t set last_fired_at = ${event.publishedAt}, last_invocation_id = d.invocation_id,
        last_status = 'queued', updated_at = now()
      from d, claimed
      where t.id = claimed.id and d.trigger_id = claimed.id`.execute(this.#db);
  }

  /** Recent events, newest first. */
  async list(page: PageOptions, type?: string): Promise<Page<EventRow>> {
    let query = this.#db
      .selectFrom("events")
      .selectAll()
      .where("tenant_id", "=", this.#tenantId)
      .orderBy("published_at", "desc")
      .orderBy("id", "desc")
      .limit(page.limit + 1);
    if (type !== undefined) query = query.where("type", "=", type);
    if (page.cursor) {
      const [at, id] = decodeCursor(page.cursor, ["date", "string"]);
      query = query.where((eb) =>
        eb.or([eb("published_at", "<", at), eb.and([eb("published_at", "=", at), eb("id", "<", id)])]),
      );
    }
    return toPage(
      await query.execute(),
      page.limit,
      (r) => [r.published_at.toISOString(), r.id],
      (r) => r,
    );
  }

  /** The deliveries of some events, with their invocations' outcomes. */
  async deliveries(eventIds: readonly string[]): Promise<EventDelivery[]> {
    if (eventIds.length === 0) return [];
    return this.#db
      .selectFrom("event_deliveries as d")
      .leftJoin("functions as f", (j) =>
        j.onRef("f.id", "=", "d.function_id").onRef("f.tenant_id", "=", "d.tenant_id"),
      )
      .leftJoin("invocations as i", (j) =>
        j.onRef("i.id", "=", "d.invocation_id").onRef("i.tenant_id", "=", "d.tenant_id"),
      )
      .select([
        "d.event_id",
        "d.trigger_id",
        "f.name as function_name",
        "d.invocation_id",
        "i.status",
        "i.attempts",
        "i.error_code",
      ])
      .where("d.tenant_id", "=", this.#tenantId)
      .where("d.event_id", "in", [...eventIds])
      .orderBy("d.event_id")
      .orderBy("d.trigger_id")
      .execute();
  }
}
