import type { Page } from "../api-client.ts";
import type { EventPublished, PublishedEvent } from "../api-types.ts";
import type { Command, CommandContext } from "../command.ts";
import { usageError } from "../errors.ts";
import { ago } from "../format.ts";
import { LIST_HELP, LIST_OPTIONS, listQuery, noteNextPage } from "../list-options.ts";
import type { ParsedArgs } from "../parsed-args.ts";

export const eventsCommand: Command = {
  name: "events",
  summary: "Publish a tenant event to its subscribed functions, or list recent events",
  help: `Usage: kumo events publish <type> [--data JSON] [--id ID]
       kumo events ls [--type T] [--limit N]

An event reaches every function with an event trigger matching its type (kumo triggers add
<fn> --event 'user.*'), each as its own async invocation with its own retries. Publishing the
same --id again does not deliver it again.

Examples:
  kumo events publish user.created --data '{"id": 42}' --id user-42-created
  kumo events ls --type user.created

  --data JSON   the event's data (JSON; default null)
  --id ID       the event's id, so a retried publish is delivered once (default: generated)
  --type T      list only events of this type
${LIST_HELP}`,
  options: { ...LIST_OPTIONS, data: { type: "string" }, id: { type: "string" }, type: { type: "string" } },
  async run(context, args) {
    const sub = args.required(0, "subcommand (kumo events publish|ls)");
    if (sub === "publish") {
      args.atMost(2);
      return publish(context, args.required(1, "event type (kumo events publish user.created)"), args);
    }
    if (sub === "ls" || sub === "list") {
      args.atMost(1);
      return list(context, args);
    }
    throw usageError(`unknown subcommand "events ${sub}": expected publish or ls`);
  },
};

async function publish(context: CommandContext, type: string, args: ParsedArgs): Promise<void> {
  const raw = args.string("data");
  let data: unknown = null;
  if (raw !== undefined) {
    try {
      data = JSON.parse(raw);
    } catch (error) {
      throw usageError(`invalid --data: not JSON (${(error as Error).message})`);
    }
  }
  const id = args.string("id");
  const client = await context.client();
  const published = await client.request<EventPublished>("POST", "/v1/events", {
    json: { type, data, ...(id === undefined ? {} : { id }) },
  });
  const { out } = context;
  out.result(published, () => {
    const note = published.duplicate ? " (published before: not delivered again)" : "";
    out.line(
      `Event ${published.eventId} (${published.type}) → ${published.deliveries.length} function(s)${note}`,
    );
    for (const d of published.deliveries)
      out.line(`  ${d.function ?? d.triggerId}: invocation ${d.invocationId}`);
    for (const s of published.skipped) out.line(`  ${s.function}: not delivered: ${s.reason}`);
  });
}

async function list(context: CommandContext, args: ParsedArgs): Promise<void> {
  const client = await context.client();
  const page = await client.get<Page<PublishedEvent>>("/v1/events", {
    query: { ...listQuery(args), type: args.string("type") },
  });
  const now = context.io.now();
  context.out.result(page, () => {
    context.out.table(
      page.items,
      [
        { header: "ID", value: (e) => e.id },
        { header: "TYPE", value: (e) => e.type },
        {
          header: "DELIVERIES",
          value: (e) =>
            e.deliveries.length === 0
              ? "-"
              : e.deliveries.map((d) => `${d.function ?? d.triggerId}:${d.status ?? "queued"}`).join(" "),
        },
        { header: "PUBLISHED", value: (e) => ago(e.publishedAt, now) },
      ],
      "No events yet: kumo events publish <type> --data '{...}'",
    );
    noteNextPage(context.out, page, "kumo events ls");
  });
}
