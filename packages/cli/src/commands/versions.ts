import type { Page } from "../api-client.ts";
import { apiPath } from "../api-path.ts";
import type { Alias, FunctionInfo, Version } from "../api-types.ts";
import type { Command } from "../command.ts";
import { ago, orDash } from "../format.ts";
import { parseFunctionName } from "../function-ref.ts";
import { LIST_HELP, LIST_OPTIONS, listQuery, noteNextPage } from "../list-options.ts";

export const versionsCommand: Command = {
  name: "versions",
  summary: "List the versions of a function and the aliases that route to them",
  help: `Usage: kumo versions <fn>

${LIST_HELP}`,
  options: { ...LIST_OPTIONS },
  async run(context, args) {
    args.atMost(1);
    const name = parseFunctionName(args.required(0, "function name (kumo versions <fn>)"));
    const client = await context.client();
    const page = await client.get<Page<Version>>(apiPath`/v1/functions/${name}/versions`, {
      query: listQuery(args),
    });
    if (context.out.json) {
      context.out.result(page, () => {});
      return;
    }
    // Aliases are decoration: an older gateway without them still lists versions.
    const aliases = await client
      .get<Page<Alias>>(apiPath`/v1/functions/${name}/aliases`)
      .then((p) => p.items)
      .catch(() => [] as Alias[]);
    const fn = await client.get<FunctionInfo>(apiPath`/v1/functions/${name}`).catch(() => null);
    const now = context.io.now();
    const routedBy = (version: number) =>
      aliases
        .flatMap((alias) =>
          alias.routing
            .filter((route) => route.version === version)
            .map((route) => (route.weight === 100 ? alias.name : `${alias.name} ${route.weight}%`)),
        )
        .join(", ");
    context.out.table(
      page.items,
      [
        { header: "", value: (v) => (fn?.liveVersion === v.version ? "*" : "") },
        { header: "VERSION", value: (v) => `v${v.version}` },
        { header: "CREATED", value: (v) => ago(v.createdAt, now) },
        { header: "BY", value: (v) => orDash(v.createdBy) },
        { header: "DIGEST", value: (v) => v.sourceDigest.replace(/^sha256:/, "").slice(0, 12) },
        { header: "ALIASES", value: (v) => orDash(routedBy(v.version)) },
      ],
      `No versions of ${name} yet: run \`kumo deploy\`.`,
    );
    noteNextPage(context.out, page, `kumo versions ${name}`);
  },
};
