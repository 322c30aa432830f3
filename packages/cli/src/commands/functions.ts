import type { Page } from "../api-client.ts";
import { apiPath } from "../api-path.ts";
import type { FunctionInfo } from "../api-types.ts";
import type { Command, CommandContext } from "../command.ts";
import { usageError } from "../errors.ts";
import { ago, orDash } from "../format.ts";
import { parseFunctionName } from "../function-ref.ts";
import { LIST_HELP, LIST_OPTIONS, listQuery, noteNextPage } from "../list-options.ts";
import type { ParsedArgs } from "../parsed-args.ts";
import { canPrompt, confirm } from "../prompt.ts";

export const functionsCommand: Command = {
  name: "functions",
  summary: "List, show or delete functions",
  help: `Usage: kumo functions [list]
       kumo functions get <name>
       kumo functions delete <name> [--yes]

${LIST_HELP}
  -y, --yes     delete without asking (asked only on a terminal)`,
  options: { ...LIST_OPTIONS, yes: { type: "boolean", short: "y" } },
  async run(context, args) {
    const sub = args.optional(0) ?? "list";
    if (sub === "list" || sub === "ls") return list(context, args.atMost(1));
    if (sub === "get" || sub === "show") return get(context, args.atMost(2));
    if (sub === "delete" || sub === "rm") return remove(context, args.atMost(2));
    throw usageError(`unknown subcommand "functions ${sub}": expected list, get or delete`);
  },
};

async function list(context: CommandContext, args: ParsedArgs): Promise<void> {
  const client = await context.client();
  const page = await client.get<Page<FunctionInfo>>("/v1/functions", { query: listQuery(args) });
  const now = context.io.now();
  context.out.result(page, () => {
    context.out.table(
      page.items,
      [
        { header: "NAME", value: (f) => f.name },
        { header: "RUNTIME", value: (f) => f.runtime },
        { header: "LIVE", value: (f) => (f.liveVersion === null ? "-" : `v${f.liveVersion}`) },
        { header: "UPDATED", value: (f) => ago(f.updatedAt, now) },
        { header: "URL", value: (f) => orDash(f.url) },
      ],
      "No functions yet. Create one with `kumo init` and `kumo deploy`.",
    );
    noteNextPage(context.out, page, "kumo functions list");
  });
}

async function get(context: CommandContext, args: ParsedArgs): Promise<void> {
  const name = parseFunctionName(args.required(1, "function name (kumo functions get <name>)"));
  const client = await context.client();
  const fn = await client.get<FunctionInfo>(apiPath`/v1/functions/${name}`);
  context.out.result(fn, () => {
    context.out.fields([
      ["name", fn.name],
      ["id", fn.id],
      ["runtime", fn.runtime],
      ["live", fn.liveVersion === null ? "- (not deployed)" : `v${fn.liveVersion}`],
      ["url", orDash(fn.url)],
      ["created", fn.createdAt],
      ["updated", fn.updatedAt],
    ]);
    context.out.line("config:");
    context.out.line(
      JSON.stringify(fn.config, null, 2)
        .split("\n")
        .map((line) => `  ${line}`)
        .join("\n"),
    );
  });
}

async function remove(context: CommandContext, args: ParsedArgs): Promise<void> {
  const name = parseFunctionName(args.required(1, "function name (kumo functions delete <name>)"));
  if (!args.flag("yes") && canPrompt(context.io)) {
    const sure = await confirm(context.io, `Delete function ${name} with all its versions?`);
    if (!sure) {
      context.out.note("Nothing deleted.");
      return;
    }
  }
  const client = await context.client();
  await client.request("DELETE", apiPath`/v1/functions/${name}`);
  context.out.result({ deleted: name }, () => context.out.line(`Deleted function ${name}.`));
}
