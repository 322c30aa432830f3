import { ENV_KEY } from "@kumo/core";
import type { Page } from "../api-client.ts";
import { apiPath } from "../api-path.ts";
import type { EnvVar } from "../api-types.ts";
import type { Command, CommandContext } from "../command.ts";
import { usageError } from "../errors.ts";
import { parseFunctionName } from "../function-ref.ts";
import type { ParsedArgs } from "../parsed-args.ts";

export const envCommand: Command = {
  name: "env",
  summary: "List, set or unset a function's environment variables",
  help: `Usage: kumo env <fn> [list]
       kumo env <fn> set KEY=VALUE...
       kumo env <fn> unset KEY...

For secret values use \`kumo secrets set\` and list the secret in kumo.json "secrets".`,
  options: {},
  async run(context, args) {
    const name = parseFunctionName(args.required(0, "function name (kumo env <fn> [list|set|unset])"));
    const sub = args.optional(1) ?? "list";
    if (sub === "list" || sub === "ls") {
      args.atMost(2);
      return list(context, name);
    }
    if (sub === "set") return set(context, name, args);
    if (sub === "unset") return unset(context, name, args);
    throw usageError(`unknown subcommand "env ${sub}": expected list, set or unset`);
  },
};

async function list(context: CommandContext, name: string): Promise<void> {
  const client = await context.client();
  const page = await client.get<Page<EnvVar>>(apiPath`/v1/functions/${name}/env`);
  context.out.result(page, () => {
    if (page.items.length === 0) context.out.line(`No environment variables for ${name}.`);
    for (const item of page.items) context.out.line(`${item.key}=${item.value}`);
  });
}

async function set(context: CommandContext, name: string, args: ParsedArgs): Promise<void> {
  const pairs = args.rest(2).map((spec) => {
    const eq = spec.indexOf("=");
    if (eq <= 0) throw usageError(`invalid "${spec}": expected KEY=VALUE`);
    const key = spec.slice(0, eq);
    if (!ENV_KEY.test(key))
      throw usageError(`invalid variable name "${key}": letters, digits and '_', not starting with a digit`);
    return { key, value: spec.slice(eq + 1) };
  });
  if (pairs.length === 0) throw usageError("nothing to set: give KEY=VALUE pairs");
  const client = await context.client();
  for (const { key, value } of pairs) {
    await client.request("PUT", apiPath`/v1/functions/${name}/env/${key}`, { json: { value } });
  }
  context.out.result({ set: pairs.map((p) => p.key) }, () => {
    context.out.line(`Set ${pairs.map((p) => p.key).join(", ")} on ${name}.`);
  });
}

async function unset(context: CommandContext, name: string, args: ParsedArgs): Promise<void> {
  const keys = args.rest(2);
  if (keys.length === 0) throw usageError("nothing to unset: give variable names");
  for (const key of keys) if (!ENV_KEY.test(key)) throw usageError(`invalid variable name "${key}"`);
  const client = await context.client();
  for (const key of keys) await client.request("DELETE", apiPath`/v1/functions/${name}/env/${key}`);
  context.out.result({ unset: keys }, () => context.out.line(`Unset ${keys.join(", ")} on ${name}.`));
}
