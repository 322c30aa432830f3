import type { Page } from "../api-client.ts";
import { apiPath } from "../api-path.ts";
import type { Secret } from "../api-types.ts";
import type { Command, CommandContext } from "../command.ts";
import { usageError } from "../errors.ts";
import { ago } from "../format.ts";
import type { ParsedArgs } from "../parsed-args.ts";
import { canPrompt, promptHidden, readStdin } from "../prompt.ts";

export const secretsCommand: Command = {
  name: "secrets",
  summary: "Manage the tenant's secrets (values are never shown)",
  help: `Usage: kumo secrets [list]
       kumo secrets set NAME [--value V]   (else the value is read from stdin, or asked for on a terminal)
       kumo secrets delete NAME

A function sees a secret as an environment variable when kumo.json lists it: "secrets": ["NAME"].
Prefer stdin or the prompt over --value: arguments end up in shell history.`,
  options: { value: { type: "string" } },
  async run(context, args) {
    const sub = args.optional(0) ?? "list";
    if (sub === "list" || sub === "ls") {
      args.atMost(1);
      return list(context);
    }
    if (sub === "set") return set(context, args.atMost(2));
    if (sub === "delete" || sub === "rm") return remove(context, args.atMost(2));
    throw usageError(`unknown subcommand "secrets ${sub}": expected list, set or delete`);
  },
};

async function list(context: CommandContext): Promise<void> {
  const client = await context.client();
  const page = await client.get<Page<Secret>>("/v1/secrets");
  const now = context.io.now();
  context.out.result(page, () => {
    context.out.table(
      page.items,
      [
        { header: "NAME", value: (s) => s.name },
        { header: "VERSION", value: (s) => String(s.version) },
        { header: "UPDATED", value: (s) => ago(s.updatedAt, now) },
      ],
      "No secrets yet.",
    );
  });
}

async function set(context: CommandContext, args: ParsedArgs): Promise<void> {
  const name = args.required(1, "secret name (kumo secrets set NAME)");
  let value = args.string("value");
  if (value === undefined) {
    if (canPrompt(context.io)) {
      value = await promptHidden(context.io, `Value of ${name}: `);
    } else {
      // One trailing newline comes from `echo`, not from the secret.
      value = (await readStdin(context.io)).toString("utf8").replace(/\r?\n$/, "");
    }
  }
  if (value === "")
    throw usageError("empty secret value", "pass --value, pipe the value on stdin, or run on a terminal");
  const client = await context.client();
  const result = await client.request<{ name: string; version: number }>(
    "PUT",
    apiPath`/v1/secrets/${name}`,
    {
      json: { value },
    },
  );
  context.out.result(result, () =>
    context.out.line(`Stored secret ${result.name} (version ${result.version}).`),
  );
}

async function remove(context: CommandContext, args: ParsedArgs): Promise<void> {
  const name = args.required(1, "secret name (kumo secrets delete NAME)");
  const client = await context.client();
  await client.request("DELETE", apiPath`/v1/secrets/${name}`);
  context.out.result({ deleted: name }, () => context.out.line(`Deleted secret ${name}.`));
}
