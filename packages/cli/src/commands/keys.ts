import type { Page } from "../api-client.ts";
import { apiPath } from "../api-path.ts";
import { type ApiKey, type CreatedApiKey, KEY_ROLES, type WhoAmI } from "../api-types.ts";
import type { Command, CommandContext } from "../command.ts";
import { usageError } from "../errors.ts";
import { ago, orDash } from "../format.ts";
import type { ParsedArgs } from "../parsed-args.ts";

export const keysCommand: Command = {
  name: "keys",
  summary: "List, create or revoke the tenant's API keys",
  help: `Usage: kumo keys [list]
       kumo keys create --role <${KEY_ROLES.join("|")}> [--name N]
       kumo keys revoke <id>

The tenant is the one of the current key; a platform admin names it with --tenant.
A new key is printed once: store it right away.`,
  options: { role: { type: "string" }, name: { type: "string" }, tenant: { type: "string" } },
  async run(context, args) {
    const sub = args.optional(0) ?? "list";
    if (sub === "list" || sub === "ls") return list(context, args.atMost(1));
    if (sub === "create") return create(context, args.atMost(1));
    if (sub === "revoke" || sub === "delete") return revoke(context, args.atMost(2));
    throw usageError(`unknown subcommand "keys ${sub}": expected list, create or revoke`);
  },
};

async function tenantOf(context: CommandContext, args: ParsedArgs): Promise<string> {
  const flag = args.string("tenant");
  if (flag !== undefined) return flag;
  const whoami = await (await context.client()).get<WhoAmI>("/v1/whoami");
  if (!whoami.tenant) throw usageError("this key belongs to no tenant: name one with --tenant");
  return whoami.tenant.name;
}

async function list(context: CommandContext, args: ParsedArgs): Promise<void> {
  const tenant = await tenantOf(context, args);
  const client = await context.client();
  const page = await client.get<Page<ApiKey>>(apiPath`/v1/tenants/${tenant}/api-keys`);
  const now = context.io.now();
  context.out.result(page, () => {
    context.out.table(page.items, [
      { header: "ID", value: (k) => k.id },
      { header: "NAME", value: (k) => orDash(k.name) },
      { header: "ROLE", value: (k) => k.role },
      { header: "CREATED", value: (k) => ago(k.createdAt, now) },
      { header: "LAST USED", value: (k) => (k.lastUsedAt ? ago(k.lastUsedAt, now) : "never") },
      { header: "STATUS", value: (k) => (k.revokedAt ? `revoked ${ago(k.revokedAt, now)}` : "active") },
    ]);
  });
}

async function create(context: CommandContext, args: ParsedArgs): Promise<void> {
  const role = args.string("role");
  if (role === undefined) throw usageError(`missing --role (one of ${KEY_ROLES.join(", ")})`);
  if (!(KEY_ROLES as readonly string[]).includes(role)) {
    throw usageError(`unknown role "${role}": expected one of ${KEY_ROLES.join(", ")}`);
  }
  const name = args.string("name");
  const tenant = await tenantOf(context, args);
  const client = await context.client();
  const key = await client.request<CreatedApiKey>("POST", apiPath`/v1/tenants/${tenant}/api-keys`, {
    json: name === undefined ? { role } : { role, name },
  });
  context.out.result(key, () => {
    context.out.line(key.key);
    context.out.note(`Created ${key.role} key ${key.id} for tenant ${tenant}. It is shown only this once.`);
  });
}

async function revoke(context: CommandContext, args: ParsedArgs): Promise<void> {
  const id = args.required(1, "key id (kumo keys revoke <id>)");
  const tenant = await tenantOf(context, args);
  const client = await context.client();
  await client.request("DELETE", apiPath`/v1/tenants/${tenant}/api-keys/${id}`);
  context.out.result({ revoked: id }, () => context.out.line(`Revoked key ${id}.`));
}
