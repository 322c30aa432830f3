import { RESOURCE_NAME } from "@kumo/core";
import type { Page } from "../api-client.ts";
import type { CreatedTenant, Tenant } from "../api-types.ts";
import type { Command, CommandContext } from "../command.ts";
import { usageError } from "../errors.ts";
import { ago } from "../format.ts";
import type { ParsedArgs } from "../parsed-args.ts";

export const tenantsCommand: Command = {
  name: "tenants",
  summary: "Create or list tenants (platform admin)",
  help: `Usage: kumo tenants create <name>
       kumo tenants [list]

Creating a tenant prints its first admin API key, once.`,
  options: {},
  async run(context, args) {
    const sub = args.optional(0) ?? "list";
    if (sub === "list" || sub === "ls") {
      args.atMost(1);
      return list(context);
    }
    if (sub === "create") return create(context, args.atMost(2));
    throw usageError(`unknown subcommand "tenants ${sub}": expected create or list`);
  },
};

async function create(context: CommandContext, args: ParsedArgs): Promise<void> {
  const name = args.required(1, "tenant name (kumo tenants create <name>)");
  if (!RESOURCE_NAME.test(name)) {
    throw usageError(
      `invalid tenant name "${name}": lowercase letters, digits and '-', starting with a letter`,
    );
  }
  const client = await context.client();
  const created = await client.request<CreatedTenant>("POST", "/v1/tenants", { json: { name } });
  context.out.result(created, () => {
    context.out.line(`Created tenant ${created.tenant.name} (${created.tenant.id}).`);
    context.out.line(`Admin API key (shown only this once): ${created.apiKey.key}`);
    context.out.note(`Use it with: kumo login --url ${client.url} --key <key>`);
  });
}

async function list(context: CommandContext): Promise<void> {
  const client = await context.client();
  const page = await client.get<Page<Tenant>>("/v1/tenants");
  const now = context.io.now();
  context.out.result(page, () => {
    context.out.table(page.items, [
      { header: "NAME", value: (t) => t.name },
      { header: "ID", value: (t) => t.id },
      { header: "CREATED", value: (t) => ago(t.createdAt, now) },
    ]);
  });
}
