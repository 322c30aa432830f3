import type { Page } from "../api-client.ts";
import { apiPath } from "../api-path.ts";
import type { Invocation } from "../api-types.ts";
import type { Command, CommandContext } from "../command.ts";
import { usageError } from "../errors.ts";
import { ago, duration, orDash, timestamp } from "../format.ts";
import { parseFunctionName } from "../function-ref.ts";
import { LIST_HELP, LIST_OPTIONS, listQuery, noteNextPage } from "../list-options.ts";
import type { ParsedArgs } from "../parsed-args.ts";

const STATUSES = ["queued", "running", "succeeded", "failed"];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const invocationsCommand: Command = {
  name: "invocations",
  summary: "Show a function's invocation history, or one invocation with its logs",
  help: `Usage: kumo invocations <fn> [--status S] [--trigger T] [--limit N]
       kumo invocations <invocation-id>

  --status S    only queued, running, succeeded or failed invocations
  --trigger T   only those a trigger started: a trigger id (trg_...) or a kind (cron, http, api)
${LIST_HELP}`,
  options: { ...LIST_OPTIONS, status: { type: "string" }, trigger: { type: "string" } },
  async run(context, args) {
    args.atMost(1);
    const target = args.required(0, "function name or invocation id (kumo invocations <fn>)");
    if (UUID.test(target)) return show(context, target);
    return history(context, parseFunctionName(target), args);
  },
};

async function history(context: CommandContext, name: string, args: ParsedArgs): Promise<void> {
  const status = args.string("status");
  if (status !== undefined && !STATUSES.includes(status)) {
    throw usageError(`invalid --status "${status}": expected one of ${STATUSES.join(", ")}`);
  }
  const client = await context.client();
  const page = await client.get<Page<Invocation>>(apiPath`/v1/functions/${name}/invocations`, {
    query: { ...listQuery(args), status, ...triggerQuery(args.string("trigger")) },
  });
  const now = context.io.now();
  context.out.result(page, () => {
    context.out.table(
      page.items,
      [
        { header: "ID", value: (i) => i.id },
        { header: "VERSION", value: (i) => (i.version === null ? "-" : `v${i.version}`) },
        { header: "TRIGGER", value: (i) => i.trigger },
        { header: "STATUS", value: (i) => (i.errorCode ? `${i.status} (${i.errorCode})` : i.status) },
        { header: "DURATION", value: (i) => duration(i.durationMs) },
        { header: "COLD", value: (i) => coldOf(i.coldStart) },
        { header: "STARTED", value: (i) => ago(i.startedAt, now) },
      ],
      `No invocations of ${name}${status ? ` with status ${status}` : ""}.`,
    );
    noteNextPage(context.out, page, `kumo invocations ${name}`);
  });
}

async function show(context: CommandContext, id: string): Promise<void> {
  const client = await context.client();
  const inv = await client.get<Invocation>(apiPath`/v1/invocations/${id}`);
  context.out.result(inv, () => {
    context.out.fields([
      ["id", inv.id],
      ["function", `${inv.functionName}${inv.version === null ? "" : ` v${inv.version}`}`],
      ["trigger", inv.triggerId ? `${inv.trigger} (${inv.triggerId})` : inv.trigger],
      ["status", inv.errorCode ? `${inv.status} (${inv.errorCode})` : inv.status],
      ["duration", duration(inv.durationMs)],
      ["cold start", coldOf(inv.coldStart)],
      ["started", orDash(inv.startedAt)],
      ...(inv.errorMessage ? [["error", inv.errorMessage] as [string, string]] : []),
    ]);
    const result = inv.result;
    if (result) {
      context.out.line(`result: ${result.statusCode ?? "-"}${typeOf(result.headers)}`);
      const body = result.isBase64Encoded
        ? `(${Buffer.from(result.body, "base64").byteLength} bytes of binary; --json shows them base64)`
        : result.body;
      for (const line of body.split("\n")) context.out.line(`  ${line}`);
    }
    const logs = inv.logs ?? [];
    if (logs.length > 0) {
      context.out.line("logs:");
      for (const log of logs) {
        context.out.line(`  ${timestamp(log.ts)} ${log.level.toUpperCase().padEnd(5)} ${log.message}`);
      }
    }
  });
}

/** ", <content type>" when the response named one. */
function typeOf(headers: Record<string, string>): string {
  const type = Object.entries(headers).find(([name]) => name.toLowerCase() === "content-type")?.[1];
  return type ? `, ${type}` : "";
}

function coldOf(value: Invocation["coldStart"]): string {
  if (value === null || value === undefined) return "-";
  if (typeof value === "boolean") return value ? "yes" : "no";
  return value;
}

/** `--trigger trg_…` filters by the trigger, any other value by the kind of trigger. */
function triggerQuery(value: string | undefined): { trigger?: string; triggerId?: string } {
  if (value === undefined) return {};
  return value.startsWith("trg_") ? { triggerId: value } : { trigger: value };
}
