import type { TriggerPlane } from "./trigger-plane.ts";

/**
 * Answers every batch with what it saw, and reports as failed each message whose `data.fail` is at
 * least its delivery count (fail: 1 fails the first delivery only; fail: 99 always).
 */
export const BATCH_ECHO = `export default { async fetch(request) {
  const event = await request.json();
  const batchItemFailures = event.messages
    .filter((m) => m.data && typeof m.data.fail === "number" && m.deliveries <= m.data.fail)
    .map((m) => ({ itemIdentifier: m.id }));
  return Response.json({
    type: event.type,
    queue: event.queue,
    triggerId: event.triggerId,
    header: request.headers.get("kumo-event-type"),
    seen: event.messages.map((m) => ({ id: m.id, key: m.key, data: m.data, deliveries: m.deliveries, publishedAt: m.publishedAt })),
    batchItemFailures,
  });
} };`;

export interface Seen {
  id: string;
  key: string | null;
  data: unknown;
  deliveries: number;
  publishedAt: string | null;
}

export interface Batch {
  invocationId: string;
  type: string;
  queue: string;
  header: string;
  seen: Seen[];
}

/** A trigger's finished batches, oldest first, as the function answered them. */
export async function batches(p: TriggerPlane, triggerId: string): Promise<Batch[]> {
  const rows = await p.gw.gateway.database.db
    .selectFrom("invocations")
    .select(["id", "status", "result", "started_at"])
    .where("trigger_id", "=", triggerId)
    .where("status", "=", "succeeded")
    .orderBy("started_at")
    .execute();
  return rows.map((r) => ({
    invocationId: r.id,
    ...(JSON.parse(Buffer.from(r.result ?? new Uint8Array()).toString("utf8")) as Omit<
      Batch,
      "invocationId"
    >),
  }));
}
