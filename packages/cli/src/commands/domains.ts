import type { Page } from "../api-client.ts";
import { apiPath } from "../api-path.ts";
import type { Domain } from "../api-types.ts";
import type { Command, CommandContext } from "../command.ts";
import { usageError } from "../errors.ts";
import { ago } from "../format.ts";
import { LIST_HELP, LIST_OPTIONS, listQuery, noteNextPage } from "../list-options.ts";
import type { ParsedArgs } from "../parsed-args.ts";

export const domainsCommand: Command = {
  name: "domains",
  summary: "Claim, verify, list or release the tenant's custom domains",
  help: `Usage: kumo domains [list]
       kumo domains add <hostname>
       kumo domains verify <hostname>
       kumo domains delete <hostname>

add claims a hostname and prints the DNS TXT record that proves you control it; once the record
is published, verify checks it and marks the domain verified. Only verified domains serve
routes (kumo routes add ... --host <hostname>). delete releases the domain and deletes its routes.
${LIST_HELP}`,
  options: { ...LIST_OPTIONS },
  async run(context, args) {
    const sub = args.optional(0) ?? "list";
    if (sub === "list" || sub === "ls") return list(context, args.atMost(1));
    if (sub === "add") return add(context, args.atMost(2));
    if (sub === "verify") return verify(context, args.atMost(2));
    if (sub === "delete" || sub === "rm") return remove(context, args.atMost(2));
    throw usageError(`unknown subcommand "domains ${sub}": expected list, add, verify or delete`);
  },
};

async function list(context: CommandContext, args: ParsedArgs): Promise<void> {
  const client = await context.client();
  const page = await client.get<Page<Domain>>("/v1/domains", { query: listQuery(args) });
  const { out } = context;
  const now = context.io.now();
  out.result(page, () => {
    out.table(
      page.items,
      [
        { header: "HOSTNAME", value: (d) => d.hostname },
        { header: "STATUS", value: (d) => d.status },
        { header: "CLAIMED", value: (d) => ago(d.createdAt, now) },
        {
          header: "VERIFIED",
          value: (d) => (d.verifiedAt ? `${ago(d.verifiedAt, now)} by ${d.verifiedBy ?? "?"}` : "-"),
        },
      ],
      "No custom domains yet: kumo domains add <hostname>",
    );
    for (const domain of page.items) {
      if (domain.status === "pending") {
        out.note(
          `${domain.hostname}: publish TXT ${domain.verification.name} = "${domain.verification.value}", then run kumo domains verify ${domain.hostname}`,
        );
      }
    }
    noteNextPage(out, page, "kumo domains list");
  });
}

async function add(context: CommandContext, args: ParsedArgs): Promise<void> {
  const hostname = parseHostname(args.required(1, "hostname (kumo domains add api.example.com)"));
  const client = await context.client();
  const domain = await client.request<Domain>("POST", "/v1/domains", { json: { hostname } });
  const { out } = context;
  out.result(domain, () => {
    out.line(`Claimed ${domain.hostname}. To prove you control it, create this DNS record:`);
    out.line();
    out.fields([
      ["  Type", domain.verification.type],
      ["  Name", domain.verification.name],
      ["  Value", domain.verification.value],
    ]);
    out.line();
    out.line(`Then, once it has propagated: kumo domains verify ${domain.hostname}`);
  });
}

async function verify(context: CommandContext, args: ParsedArgs): Promise<void> {
  const hostname = parseHostname(args.required(1, "hostname (kumo domains verify api.example.com)"));
  const client = await context.client();
  // Not verified yet: the gateway answers FN_006 naming the record it looked for and what it found.
  const domain = await client.request<Domain>("POST", apiPath`/v1/domains/${hostname}/verify`);
  const { out } = context;
  out.result(domain, () => {
    out.line(`${domain.hostname} is verified (by ${domain.verifiedBy ?? "dns"}).`);
    out.line(`Route it: kumo routes add GET '/*' <fn> --host ${domain.hostname}`);
  });
}

async function remove(context: CommandContext, args: ParsedArgs): Promise<void> {
  const hostname = parseHostname(args.required(1, "hostname (kumo domains delete api.example.com)"));
  const client = await context.client();
  await client.request("DELETE", apiPath`/v1/domains/${hostname}`);
  context.out.result({ deleted: hostname }, () => {
    context.out.line(`Released ${hostname}; its routes are deleted too.`);
  });
}

/** The gateway checks the name in full; this catches a URL given where a hostname is meant. */
export function parseHostname(raw: string): string {
  const url = /^[a-z][a-z0-9+.-]*:\/\/([^/:]+)/i.exec(raw);
  if (url || /[/:]/.test(raw)) {
    const suggestion = url?.[1] ? ` (e.g. ${url[1]})` : "";
    throw usageError(
      `invalid hostname "${raw}": give the name only, without scheme, port or path${suggestion}`,
    );
  }
  return raw;
}
