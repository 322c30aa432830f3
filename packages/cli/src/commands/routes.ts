import type { Page } from "../api-client.ts";
import { apiPath } from "../api-path.ts";
import { ROUTE_METHODS, type Route, type RouteMethod } from "../api-types.ts";
import type { Command, CommandContext } from "../command.ts";
import { usageError } from "../errors.ts";
import { orDash } from "../format.ts";
import { addressOf, parseFunctionRef } from "../function-ref.ts";
import { LIST_HELP, LIST_OPTIONS, listQuery, noteNextPage } from "../list-options.ts";
import type { ParsedArgs } from "../parsed-args.ts";

export const routesCommand: Command = {
  name: "routes",
  summary: "List, add or delete the tenant's HTTP routes to functions",
  help: `Usage: kumo routes [list]
       kumo routes add <METHOD> <path> <fn[@alias|@vN]> [--host HOST]
       kumo routes delete <id>

A route sends the requests matching a method (${ROUTE_METHODS.join(", ")}) and a path pattern
to a function. Patterns hold literal segments, :params and a final * (the rest of the path).
Without --host, routes serve <tenant>.<apps domain> and /r/<tenant>/ on the gateway; with it, a
custom domain of the tenant that is verified (kumo domains).

Examples:
  kumo routes add GET '/users/:id/*' users@live
  kumo routes add ANY '/*' site --host www.example.com

  --host HOST   a verified custom domain (default: the tenant's own host)
${LIST_HELP}`,
  options: { host: { type: "string" }, ...LIST_OPTIONS },
  async run(context, args) {
    const sub = args.optional(0) ?? "list";
    if (sub === "list" || sub === "ls") return list(context, args.atMost(1));
    if (sub === "add") return add(context, args.atMost(4));
    if (sub === "delete" || sub === "rm") return remove(context, args.atMost(2));
    throw usageError(`unknown subcommand "routes ${sub}": expected list, add or delete`);
  },
};

async function list(context: CommandContext, args: ParsedArgs): Promise<void> {
  const client = await context.client();
  const page = await client.get<Page<Route>>("/v1/routes", { query: listQuery(args) });
  const { out } = context;
  out.result(page, () => {
    out.table(
      page.items,
      [
        { header: "METHOD", value: (r) => r.method },
        { header: "HOST", value: (r) => orDash(r.host) },
        { header: "PATH", value: (r) => r.path },
        { header: "FUNCTION", value: (r) => r.function },
        { header: "ID", value: (r) => r.id },
      ],
      "No routes yet: kumo routes add GET /path <fn>",
    );
    noteNextPage(out, page, "kumo routes list");
  });
}

async function add(context: CommandContext, args: ParsedArgs): Promise<void> {
  const usage = "kumo routes add GET /users/:id/* <fn[@alias]>";
  const method = parseMethod(args.required(1, `method (${usage})`));
  const path = parsePath(args.required(2, `path (${usage})`));
  const target = addressOf(parseFunctionRef(args.required(3, `function (${usage})`)));
  const host = args.string("host");
  if (host !== undefined) checkHost(host);
  const client = await context.client();
  const route = await client.request<Route>("POST", "/v1/routes", {
    json: { method, path, function: target, ...(host === undefined ? {} : { host }) },
  });
  context.out.result(route, () => {
    const on = route.host === null ? "" : ` on ${route.host}`;
    context.out.line(`Added route ${route.id}: ${route.method} ${route.path}${on} → ${route.function}`);
  });
}

async function remove(context: CommandContext, args: ParsedArgs): Promise<void> {
  const id = args.required(1, "route id (kumo routes delete <id>; see kumo routes list)");
  const client = await context.client();
  await client.request("DELETE", apiPath`/v1/routes/${id}`);
  context.out.result({ deleted: id }, () => context.out.line(`Deleted route ${id}.`));
}

/** `get` or `GET`; one of the methods the gateway routes, ANY for all of them. */
export function parseMethod(raw: string): RouteMethod {
  const method = ROUTE_METHODS.find((m) => m === raw.toUpperCase());
  if (method === undefined) {
    throw usageError(`invalid method "${raw}": expected one of ${ROUTE_METHODS.join(", ")}`);
  }
  return method;
}

/** The gateway checks the pattern in full; this catches the likely slip of a missing "/" or a URL. */
export function parsePath(raw: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    throw usageError(`invalid path "${raw}": give the path only (e.g. /users/:id), and the host with --host`);
  }
  if (!raw.startsWith("/")) throw usageError(`invalid path "${raw}": it must start with "/"`);
  return raw;
}

function checkHost(host: string): void {
  if (host === "" || /[/:]/.test(host)) {
    throw usageError(
      `invalid --host "${host}": give a hostname such as api.example.com, without scheme or port`,
    );
  }
}
