import type { Page } from "../api-client.ts";
import { apiPath } from "../api-path.ts";
import type { Trigger, TriggerFired, TriggerNext } from "../api-types.ts";
import type { Command, CommandContext } from "../command.ts";
import { usageError } from "../errors.ts";
import { orDash } from "../format.ts";
import { parseFunctionName } from "../function-ref.ts";
import type { ParsedArgs } from "../parsed-args.ts";

const OVERLAPS = ["skip", "allow", "queue"] as const;
const CATCH_UPS = ["skip", "once", "all"] as const;
const ALERT_FORMATS = ["json", "slack"] as const;
const DATABASE_EVENTS = ["insert", "update", "delete"] as const;

export const triggersCommand: Command = {
  name: "triggers",
  summary: "List, add, remove, pause, resume or fire a function's cron, event, queue and database triggers",
  help: `Usage: kumo triggers ls <fn>
       kumo triggers add <fn> '<schedule>' [--timezone ZONE] [--overlap skip|allow|queue]
                                          [--catch-up skip|once|all] [--jitter 30s] [common options]
       kumo triggers add <fn> --event <type-or-pattern> [common options]
       kumo triggers add <fn> --queue <queue> [--batch-size N] [--batch-window 5s] [--ordered]
                                [--max-deliveries N] [--rabbitmq-secret NAME] [common options]
       kumo triggers add <fn> --database-secret NAME --tables t1,t2 [--events insert,update,delete]
                                [--columns c1,c2] [--filter 'qty > 0'] [common options]
         common options: [--target ALIAS|vN] [--paused] [--alert-url URL [--alert-after N]
                                [--alert-format json|slack] [--alert-secret NAME]]
       kumo triggers rm <fn> <id>
       kumo triggers pause <fn> <id>
       kumo triggers resume <fn> <id>
       kumo triggers fire <fn> <id>
       kumo triggers next <fn> <id> [--count N]

A cron schedule has 5 fields (minute hour day month weekday), 6 with leading seconds, or is one
of @hourly, @daily, @weekly, @monthly, @yearly; it is read in an IANA time zone (default UTC).
Each firing is an async invocation with the event {type: "cron", triggerId, scheduledAt, ...}.
An event trigger receives the tenant's events (kumo events publish) whose type matches: exactly
("payment.processed"), "*" for one segment ("user.*") or a final ">" for the rest ("user.>").
A database trigger receives the inserts, updates and deletes committed to the tables of the
PostgreSQL database whose connection string is the tenant secret NAME (kumo secrets set NAME ...),
through logical replication (the database needs wal_level=logical).
Triggers declared in kumo.json ("triggers") are applied on deploy and can only be paused here.

Examples:
  kumo triggers add export '0 2 * * *' --timezone Europe/Berlin --alert-url https://hooks.example.com/x
  kumo triggers next export trg_... --count 3
  kumo triggers add welcome --event 'user.*'
  kumo triggers add sync --database-secret SHOP_DB --tables orders --events insert,update --filter 'qty > 0'

  --timezone ZONE   IANA zone the schedule is read in (default UTC)
  --target T        alias or version to invoke (default live)
  --overlap P       skip (default: no new run while one is in flight), allow, or queue (run it
                    when the one in flight ends)
  --catch-up P      slots missed while no scheduler ran: skip (default), once or all
  --jitter D        fire each slot up to D (at most 1h) late, at random (default 0)
  --event P         an event trigger for event types matching P instead of a schedule
  --queue Q         a queue trigger: batches of queue Q's messages (kumo queues publish Q ...)
  --batch-size N    messages per batch, 1-10000 (default 1)
  --batch-window D  wait up to D (0-300s) for a batch to fill (default 0)
  --ordered         one key's messages in publish order; a failed one holds back the rest of its key
  --max-deliveries N  deliveries before a message becomes a dead letter (default 5)
  --rabbitmq-secret S  consume queue Q on RabbitMQ whose amqp:// URL is the tenant secret S
  --database-secret S  a database trigger on the PostgreSQL database whose URL is the secret S
  --tables T,...    tables it watches ("orders" or "shop.orders")
  --events E,...    insert, update, delete (default all three)
  --columns C,...   only these columns in the event's rows (default all)
  --filter EXPR     only rows for which the PostgreSQL expression holds (PostgreSQL 15+)
  --alert-url URL   webhook told after failed runs, and again when a run succeeds
  --alert-after N   consecutive failed runs before the alert (default 1)
  --alert-format F  json (default) or slack
  --alert-secret S  sign the alert body with the tenant secret S (HMAC-SHA256, kumo-signature)
  --paused          create it paused
  --count N         how many fire times "next" lists (default 5)`,
  options: {
    timezone: { type: "string" },
    target: { type: "string" },
    overlap: { type: "string" },
    "catch-up": { type: "string" },
    paused: { type: "boolean" },
    count: { type: "string" },
    event: { type: "string" },
    queue: { type: "string" },
    "batch-size": { type: "string" },
    "batch-window": { type: "string" },
    ordered: { type: "boolean" },
    "max-deliveries": { type: "string" },
    "rabbitmq-secret": { type: "string" },
    jitter: { type: "string" },
    "database-secret": { type: "string" },
    tables: { type: "string" },
    events: { type: "string" },
    columns: { type: "string" },
    filter: { type: "string" },
    "alert-url": { type: "string" },
    "alert-after": { type: "string" },
    "alert-format": { type: "string" },
    "alert-secret": { type: "string" },
  },
  async run(context, args) {
    const sub = args.required(0, "subcommand (kumo triggers ls|add|rm|pause|resume|fire|next <fn>)");
    const name = parseFunctionName(args.required(1, `function name (kumo triggers ${sub} <fn>)`));
    if (sub === "ls" || sub === "list") return list(context, name, args.atMost(2));
    if (sub === "add") return add(context, name, args.atMost(3));
    const id = args.required(
      2,
      `trigger id (kumo triggers ${sub} ${name} <id>; see kumo triggers ls ${name})`,
    );
    args.atMost(3);
    if (sub === "rm" || sub === "delete") return remove(context, name, id);
    if (sub === "pause" || sub === "resume") return setPaused(context, name, id, sub === "pause");
    if (sub === "fire") return fire(context, name, id);
    if (sub === "next") return next(context, name, id, args);
    throw usageError(
      `unknown subcommand "triggers ${sub}": expected ls, add, rm, pause, resume, fire or next`,
    );
  },
};

async function list(context: CommandContext, name: string, _args: ParsedArgs): Promise<void> {
  const client = await context.client();
  const page = await client.get<Page<Trigger>>(apiPath`/v1/functions/${name}/triggers`);
  const { out } = context;
  out.result(page, () => {
    out.table(
      page.items,
      [
        { header: "ID", value: (t) => t.id },
        {
          header: "SCHEDULE",
          value: (t) =>
            t.schedule ??
            (t.eventType
              ? `event ${t.eventType}`
              : t.settings && "queue" in t.settings
                ? `queue ${String(t.settings.queue)}`
                : t.type),
        },
        { header: "ZONE", value: (t) => t.timezone },
        { header: "TARGET", value: (t) => t.target },
        { header: "STATE", value: (t) => (t.paused ? "paused" : "active") },
        { header: "NEXT", value: (t) => orDash(t.state.nextFireAt) },
        { header: "LAST", value: (t) => orDash(t.state.lastStatus) },
        { header: "FAILURES", value: (t) => String(t.state.consecutiveFailures) },
        { header: "SOURCE", value: (t) => t.source },
      ],
      `No triggers for ${name} yet: kumo triggers add ${name} '0 2 * * *'`,
    );
    for (const t of page.items) {
      if (t.state.lastError) out.line(`${t.id}: ${t.state.lastError}`);
    }
  });
}

/** Options only one kind of trigger takes: given to another kind, they are a mistake to report. */
const KIND_OPTIONS = {
  cron: ["timezone", "overlap", "catch-up", "jitter"],
  queue: ["batch-size", "batch-window", "ordered", "max-deliveries", "rabbitmq-secret"],
  database: ["tables", "events", "columns", "filter"],
} as const;

async function add(context: CommandContext, name: string, args: ParsedArgs): Promise<void> {
  const eventType = args.string("event");
  const queue = args.string("queue");
  const databaseSecret = args.string("database-secret");
  const kinds = [
    eventType === undefined ? [] : ["--event"],
    queue === undefined ? [] : ["--queue"],
    databaseSecret === undefined ? [] : ["--database-secret"],
  ].flat();
  if (kinds.length > 1) throw usageError(`give one of ${kinds.join(", ")}, not several`);
  const kind =
    eventType !== undefined
      ? "event"
      : queue !== undefined
        ? "queue"
        : databaseSecret !== undefined
          ? "database"
          : "cron";
  for (const [owner, options] of Object.entries(KIND_OPTIONS)) {
    if (owner === kind) continue;
    const given = options.find((o) => args.string(o) !== undefined || args.flag(o));
    if (given) throw usageError(`--${given} is for ${owner} triggers, not ${kind} triggers`);
  }
  if (eventType !== undefined) return addEvent(context, name, eventType, args);
  if (queue !== undefined) return addQueue(context, name, queue, args);
  if (databaseSecret !== undefined) return addDatabase(context, name, databaseSecret, args);
  const schedule = args.required(2, `schedule (kumo triggers add ${name} '0 2 * * *')`);
  const overlap = oneOf(args.string("overlap"), OVERLAPS, "--overlap");
  const catchUp = oneOf(args.string("catch-up"), CATCH_UPS, "--catch-up");
  const timezone = args.string("timezone");
  const jitter = args.string("jitter");
  const body = {
    type: "cron",
    schedule,
    ...(timezone === undefined ? {} : { timezone }),
    ...(overlap === undefined ? {} : { overlap }),
    ...(catchUp === undefined ? {} : { catchUp }),
    ...(jitter === undefined ? {} : { jitter }),
    ...commonFields(args),
  };
  const client = await context.client();
  const trigger = await client.request<Trigger>("POST", apiPath`/v1/functions/${name}/triggers`, {
    json: body,
  });
  context.out.result(trigger, () => {
    context.out.line(
      `Added trigger ${trigger.id}: ${trigger.schedule} (${trigger.timezone}) → ${name}@${trigger.target}`,
    );
    context.out.line(`Next fire: ${orDash(trigger.state.nextFireAt)}`);
  });
}

async function addEvent(
  context: CommandContext,
  name: string,
  eventType: string,
  args: ParsedArgs,
): Promise<void> {
  if (args.positionals.length > 2) throw usageError("give either a schedule or --event, not both");
  const body = { type: "event", eventType, ...commonFields(args) };
  const client = await context.client();
  const trigger = await client.request<Trigger>("POST", apiPath`/v1/functions/${name}/triggers`, {
    json: body,
  });
  context.out.result(trigger, () =>
    context.out.line(`Added trigger ${trigger.id}: events ${trigger.eventType} → ${name}@${trigger.target}`),
  );
}

async function addQueue(
  context: CommandContext,
  name: string,
  queue: string,
  args: ParsedArgs,
): Promise<void> {
  if (args.positionals.length > 2) throw usageError("give either a schedule or --queue, not both");
  const batchWindow = args.string("batch-window");
  const secret = args.string("rabbitmq-secret");
  const body = {
    type: "queue",
    queue,
    ...optionalInt(args, "batch-size", "batchSize"),
    ...(batchWindow === undefined ? {} : { batchWindow }),
    ...(args.flag("ordered") ? { ordered: true } : {}),
    ...optionalInt(args, "max-deliveries", "maxDeliveries"),
    ...(secret === undefined ? {} : { broker: { kind: "rabbitmq", urlSecret: secret } }),
    ...commonFields(args),
  };
  const client = await context.client();
  const trigger = await client.request<Trigger>("POST", apiPath`/v1/functions/${name}/triggers`, {
    json: body,
  });
  context.out.result(trigger, () =>
    context.out.line(
      `Added trigger ${trigger.id}: queue ${queue}${secret ? " (RabbitMQ)" : ""} → ${name}@${trigger.target}`,
    ),
  );
}

async function addDatabase(
  context: CommandContext,
  name: string,
  connectionSecret: string,
  args: ParsedArgs,
): Promise<void> {
  if (args.positionals.length > 2) {
    throw usageError("give either a schedule or --database-secret, not both");
  }
  const tables = commaList(args, "tables");
  if (tables === undefined) {
    throw usageError(
      `missing --tables (kumo triggers add ${name} --database-secret ${connectionSecret} --tables orders)`,
    );
  }
  const events = commaList(args, "events");
  for (const e of events ?? []) oneOf(e, DATABASE_EVENTS, "--events");
  const columns = commaList(args, "columns");
  const filter = args.string("filter");
  const body = {
    type: "database",
    connectionSecret,
    tables,
    ...(events === undefined ? {} : { events }),
    ...(columns === undefined ? {} : { columns }),
    ...(filter === undefined ? {} : { filter }),
    ...commonFields(args),
  };
  const client = await context.client();
  const trigger = await client.request<Trigger>("POST", apiPath`/v1/functions/${name}/triggers`, {
    json: body,
  });
  context.out.result(trigger, () => {
    context.out.line(
      `Added trigger ${trigger.id}: ${(events ?? DATABASE_EVENTS).join(", ")} on ${tables.join(", ")} → ${name}@${trigger.target}`,
    );
    context.out.line(`Its replication slot starts when the scheduler picks it up: kumo triggers ls ${name}`);
  });
}

/** Fields every kind of trigger takes: its target, paused, and its failure alert. */
function commonFields(args: ParsedArgs): Record<string, unknown> {
  const target = args.string("target");
  const url = args.string("alert-url");
  const format = oneOf(args.string("alert-format"), ALERT_FORMATS, "--alert-format");
  const secret = args.string("alert-secret");
  const after = optionalInt(args, "alert-after", "after");
  if (url === undefined) {
    const stray = ["alert-after", "alert-format", "alert-secret"].find((o) => args.string(o) !== undefined);
    if (stray) throw usageError(`--${stray} needs --alert-url (the webhook the alert goes to)`);
  }
  return {
    ...(target === undefined ? {} : { target }),
    ...(args.flag("paused") ? { paused: true } : {}),
    ...(url === undefined
      ? {}
      : {
          alert: {
            url,
            ...after,
            ...(format === undefined ? {} : { format }),
            ...(secret === undefined ? {} : { secret }),
          },
        }),
  };
}

/** A comma-separated option ("a,b") as a list; undefined when not given. */
function commaList(args: ParsedArgs, option: string): string[] | undefined {
  const raw = args.string(option);
  if (raw === undefined) return undefined;
  const items = raw
    .split(",")
    .map((i) => i.trim())
    .filter((i) => i !== "");
  if (items.length === 0) throw usageError(`--${option} needs at least one value ("a,b")`);
  return items;
}

/** An integer option as a body field; the API says what range it takes. */
function optionalInt(args: ParsedArgs, option: string, field: string): Record<string, number> {
  const raw = args.string(option);
  if (raw === undefined) return {};
  const value = Number(raw);
  if (!Number.isInteger(value)) throw usageError(`--${option} must be a whole number, not "${raw}"`);
  return { [field]: value };
}

async function remove(context: CommandContext, name: string, id: string): Promise<void> {
  const client = await context.client();
  await client.request("DELETE", apiPath`/v1/functions/${name}/triggers/${id}`);
  context.out.result({ deleted: id }, () => context.out.line(`Removed trigger ${id}.`));
}

async function setPaused(context: CommandContext, name: string, id: string, paused: boolean): Promise<void> {
  const client = await context.client();
  const trigger = await client.request<Trigger>("PATCH", apiPath`/v1/functions/${name}/triggers/${id}`, {
    json: { paused },
  });
  context.out.result(trigger, () =>
    context.out.line(
      paused
        ? `Paused trigger ${id}.`
        : `Resumed trigger ${id}; next fire ${orDash(trigger.state.nextFireAt)}.`,
    ),
  );
}

async function fire(context: CommandContext, name: string, id: string): Promise<void> {
  const client = await context.client();
  const fired = await client.request<TriggerFired>(
    "POST",
    apiPath`/v1/functions/${name}/triggers/${id}/fire`,
  );
  context.out.result(fired, () =>
    context.out.line(
      `Fired trigger ${id}: invocation ${fired.invocationId} queued (kumo invocations get ${fired.invocationId}).`,
    ),
  );
}

async function next(context: CommandContext, name: string, id: string, args: ParsedArgs): Promise<void> {
  const count = args.int("count", { min: 1, max: 100 }) ?? 5;
  const client = await context.client();
  const result = await client.get<TriggerNext>(apiPath`/v1/functions/${name}/triggers/${id}/next`, {
    query: { count: String(count) },
  });
  context.out.result(result, () => {
    if (result.paused) context.out.line(`(paused: these are the times it would fire)`);
    context.out.table(
      result.items,
      [
        { header: `LOCAL (${result.timezone})`, value: (i) => i.local },
        { header: "UTC", value: (i) => i.at },
      ],
      "It never fires again.",
    );
  });
}

function oneOf<const T extends readonly string[]>(
  value: string | undefined,
  allowed: T,
  flag: string,
): T[number] | undefined {
  if (value === undefined) return undefined;
  const match = allowed.find((a) => a === value);
  if (match === undefined) throw usageError(`invalid ${flag} "${value}": expected ${allowed.join(", ")}`);
  return match;
}
