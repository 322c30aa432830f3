import { apiPath } from "../api-path.ts";
import type { Rollback } from "../api-types.ts";
import type { Command } from "../command.ts";
import { parseFunctionName } from "../function-ref.ts";

export const rollbackCommand: Command = {
  name: "rollback",
  summary: "Point the live alias back at an earlier version, instantly",
  help: `Usage: kumo rollback <fn> [--to N]

  --to N   version to go back to (3 or v3; default: the version live before the current one)`,
  options: { to: { type: "string" } },
  async run(context, args) {
    args.atMost(1);
    const name = parseFunctionName(args.required(0, "function name (kumo rollback <fn>)"));
    const to = args.int("to", { min: 1, version: true });
    const client = await context.client();
    const result = await client.request<Rollback>("POST", apiPath`/v1/functions/${name}/rollback`, {
      json: to === undefined ? {} : { to },
    });
    context.out.result(result, () => {
      context.out.line(
        `Rolled back ${name}: ${result.alias} now serves v${result.to} (was v${result.from}).`,
      );
    });
  },
};
