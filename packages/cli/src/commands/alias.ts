import type { Page } from "../api-client.ts";
import { apiPath } from "../api-path.ts";
import type { Alias } from "../api-types.ts";
import type { Command, CommandContext } from "../command.ts";
import { usageError } from "../errors.ts";
import { ago } from "../format.ts";
import { parseFunctionName } from "../function-ref.ts";
import { type ParsedArgs, parseIntArg } from "../parsed-args.ts";

export const aliasCommand: Command = {
  name: "alias",
  summary: "Route an alias to one version or split traffic between versions",
  help: `Usage: kumo alias set <fn> <alias> <version>[=weight]...
       kumo alias list <fn>

Examples:
  kumo alias set hello live v4            all traffic of "live" to v4
  kumo alias set hello live v3=90 v4=10   a canary: 10% of requests to v4
Weights are percentages and must add up to 100.`,
  options: {},
  async run(context, args) {
    const sub = args.required(0, "subcommand (kumo alias set|list)");
    if (sub === "set") return set(context, args);
    if (sub === "list" || sub === "ls") return list(context, args.atMost(2));
    throw usageError(`unknown subcommand "alias ${sub}": expected set or list`);
  },
};

async function set(context: CommandContext, args: ParsedArgs): Promise<void> {
  const name = parseFunctionName(args.required(1, "function name (kumo alias set <fn> <alias> v3=90 v4=10)"));
  const alias = args.required(2, "alias name (kumo alias set <fn> <alias> v3=90 v4=10)");
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(alias)) {
    throw usageError(`invalid alias "${alias}": lowercase letters, digits and '-', starting with a letter`);
  }
  const routing = parseRouting(args.rest(3));
  const client = await context.client();
  const result = await client.request<Alias | undefined>(
    "PUT",
    apiPath`/v1/functions/${name}/aliases/${alias}`,
    {
      json: { routing },
    },
  );
  context.out.result(result ?? { name: alias, routing }, () => {
    context.out.line(`${name}@${alias} → ${describeRouting(routing)}`);
  });
}

async function list(context: CommandContext, args: ParsedArgs): Promise<void> {
  const name = parseFunctionName(args.required(1, "function name (kumo alias list <fn>)"));
  const client = await context.client();
  const page = await client.get<Page<Alias>>(apiPath`/v1/functions/${name}/aliases`);
  const now = context.io.now();
  context.out.result(page, () => {
    context.out.table(
      page.items,
      [
        { header: "ALIAS", value: (a) => a.name },
        { header: "ROUTING", value: (a) => describeRouting(a.routing) },
        { header: "UPDATED", value: (a) => ago(a.updatedAt, now) },
      ],
      `No aliases for ${name} yet.`,
    );
  });
}

/** `v3=90 v4=10` → [{version: 3, weight: 90}, {version: 4, weight: 10}]; a lone `v4` gets 100. */
export function parseRouting(specs: readonly string[]): { version: number; weight: number }[] {
  if (specs.length === 0) throw usageError("missing routing: give versions like v4, or v3=90 v4=10");
  const routing = specs.map((spec) => {
    const [versionText = "", weightText, extra] = spec.split("=");
    if (extra !== undefined) throw usageError(`invalid routing "${spec}": expected v3=90`);
    const version = parseIntArg(versionText, `version in "${spec}"`, { min: 1, version: true });
    if (weightText === undefined) {
      if (specs.length > 1)
        throw usageError(
          `missing weight in "${spec}": with several versions give each one, e.g. v3=90 v4=10`,
        );
      return { version, weight: 100 };
    }
    const weight = parseIntArg(weightText.replace(/%$/, ""), `weight in "${spec}"`, { min: 0, max: 100 });
    return { version, weight };
  });
  const versions = new Set(routing.map((r) => r.version));
  if (versions.size !== routing.length) throw usageError("a version appears twice in the routing");
  const total = routing.reduce((sum, r) => sum + r.weight, 0);
  if (total !== 100) throw usageError(`weights add up to ${total}, not 100`);
  return routing;
}

function describeRouting(routing: readonly { version: number; weight: number }[]): string {
  return routing
    .map((r) => (routing.length === 1 ? `v${r.version}` : `v${r.version} ${r.weight}%`))
    .join(", ");
}
