import type { WhoAmI } from "../api-types.ts";
import type { Command } from "../command.ts";

export const whoamiCommand: Command = {
  name: "whoami",
  summary: "Show the tenant and role of the current API key",
  help: "Usage: kumo whoami",
  options: {},
  async run(context, args) {
    args.atMost(0);
    const client = await context.client();
    const whoami = await client.get<WhoAmI>("/v1/whoami");
    const { url, source } = await context.credentials();
    context.out.result({ url, ...whoami }, () => {
      context.out.fields([
        ["url", url],
        ["tenant", whoami.tenant ? `${whoami.tenant.name} (${whoami.tenant.id})` : "- (platform)"],
        ["role", whoami.role],
        ["key", `${whoami.keyId} (from ${source === "config" ? "kumo login" : source})`],
      ]);
    });
  },
};
