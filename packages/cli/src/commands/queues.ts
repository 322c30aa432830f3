import { apiPath } from "../api-path.ts";
import type { Command, CommandContext } from "../command.ts";
import { usageError } from "../errors.ts";
import { orDash } from "../format.ts";
import type { ParsedArgs } from "../parsed-args.ts";

/** GET /v1/queues. */
interface QueueListing {
  items: {
    queue: string;
    broker: string | null;
    messages: number | null;
    triggers: {
      triggerId: string;
      function: string;
      paused: boolean;
      lag: number | null;
      error: string | null;
    }[];
  }[];
}

/** POST /v1/queues/:name/messages. */
interface QueuePublished {
  queue: string;
  messages: { id: string; seq: number; duplicate: boolean }[];
}

export const queuesCommand: Command = {
  name: "queues",
  summary: "Publish messages to a tenant queue, or list queues with their depth and triggers' lag",
  help: `Usage: kumo queues publish <queue> <json> [--key K] [--id ID]
       kumo queues ls

A queue trigger (kumo triggers add <fn> --queue <queue> --batch-size 10) runs its function with
batches of the queue's messages. Messages wait in the queue up to 7 days, also for a trigger
created later. Publishing the same --id again (within 10 minutes) does not store it again.
<json> is one message's data, or with --batch a JSON array of {data, key?, id?} messages.

Examples:
  kumo queues publish orders '{"orderId": 42}' --key customer-7 --id order-42
  kumo queues publish orders '[{"data": 1}, {"data": 2}]' --batch
  kumo queues ls

  --key K     ordering key: an ordered trigger processes one key's messages in publish order
  --id ID     the message's id, so a retried publish is stored once (default: generated)
  --batch     <json> is an array of messages`,
  options: { key: { type: "string" }, id: { type: "string" }, batch: { type: "boolean" } },
  async run(context, args) {
    const sub = args.required(0, "subcommand (kumo queues publish|ls)");
    if (sub === "publish") {
      args.atMost(3);
      return publish(
        context,
        args.required(1, "queue name (kumo queues publish orders '{...}')"),
        args.required(2, "message data as JSON (kumo queues publish orders '{\"n\": 1}')"),
        args,
      );
    }
    if (sub === "ls" || sub === "list") {
      args.atMost(1);
      return list(context);
    }
    throw usageError(`unknown subcommand "queues ${sub}": expected publish or ls`);
  },
};

async function publish(context: CommandContext, queue: string, raw: string, args: ParsedArgs): Promise<void> {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch (error) {
    throw usageError(`invalid message: not JSON (${(error as Error).message})`);
  }
  const key = args.string("key");
  const id = args.string("id");
  let body: Record<string, unknown>;
  if (args.flag("batch")) {
    if (!Array.isArray(data))
      throw usageError("with --batch the message must be a JSON array of {data, key?, id?}");
    if (key !== undefined || id !== undefined)
      throw usageError("--key and --id belong in each message of a --batch");
    body = { messages: data };
  } else {
    body = { data, ...(key === undefined ? {} : { key }), ...(id === undefined ? {} : { id }) };
  }
  const client = await context.client();
  const published = await client.request<QueuePublished>("POST", apiPath`/v1/queues/${queue}/messages`, {
    json: body,
  });
  context.out.result(published, () => {
    for (const m of published.messages) {
      context.out.line(
        `Message ${m.id} → ${published.queue} (seq ${m.seq})${m.duplicate ? " (published before: not stored again)" : ""}`,
      );
    }
  });
}

async function list(context: CommandContext): Promise<void> {
  const client = await context.client();
  const listing = await client.get<QueueListing>("/v1/queues");
  type Row = {
    q: QueueListing["items"][number];
    t: QueueListing["items"][number]["triggers"][number] | undefined;
  };
  const rows: Row[] = listing.items.flatMap((q): Row[] =>
    q.triggers.length === 0 ? [{ q, t: undefined }] : q.triggers.map((t) => ({ q, t })),
  );
  context.out.result(listing, () => {
    context.out.table(
      rows,
      [
        { header: "QUEUE", value: (r) => (r.q.broker ? `${r.q.queue} (${r.q.broker})` : r.q.queue) },
        { header: "MESSAGES", value: (r) => orDash(r.q.messages === null ? null : String(r.q.messages)) },
        { header: "TRIGGER", value: (r) => orDash(r.t ? `${r.t.function}/${r.t.triggerId}` : null) },
        {
          header: "LAG",
          value: (r) => orDash(r.t?.lag === undefined || r.t.lag === null ? null : String(r.t.lag)),
        },
        {
          header: "STATE",
          value: (r) => (r.t ? (r.t.error ? "error" : r.t.paused ? "paused" : "active") : "-"),
        },
      ],
      "No queues yet: kumo queues publish <queue> '{...}'",
    );
    for (const r of rows) if (r.t?.error) context.out.line(`${r.t.triggerId}: ${r.t.error}`);
  });
}
