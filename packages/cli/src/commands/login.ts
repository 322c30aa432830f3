import type { WhoAmI } from "../api-types.ts";
import type { Command } from "../command.ts";
import { DEFAULT_URL, normalizeUrl } from "../config-store.ts";
import { usageError } from "../errors.ts";
import { canPrompt, promptHidden, readStdin } from "../prompt.ts";

export const loginCommand: Command = {
  name: "login",
  summary: "Store the gateway URL and an API key after checking them",
  help: `Usage: kumo login [--url URL] [--key KEY]

Checks the key with GET /v1/whoami, then stores URL and key in ~/.config/kumo/config.json
(mode 0600; $KUMO_CONFIG overrides the path). Without --key it asks for the key on a terminal, or
reads it from stdin:  echo "$KEY" | kumo login --url https://kumo.example.com`,
  options: {},
  async run(context, args) {
    args.atMost(0);
    const stored = await context.config.read();
    const url = normalizeUrl(args.string("url") || context.io.env.KUMO_URL || stored.url || DEFAULT_URL);
    let key = args.string("key");
    if (key === undefined) {
      key = canPrompt(context.io)
        ? await promptHidden(context.io, `API key for ${url}: `)
        : (await readStdin(context.io)).toString("utf8");
    }
    key = key.trim();
    if (key === "")
      throw usageError("no API key given", "pass --key, pipe the key on stdin, or run on a terminal");

    const whoami = await context.clientFor(url, key).get<WhoAmI>("/v1/whoami");
    await context.config.write({ url, apiKey: key });
    context.out.result({ url, ...whoami, configPath: context.config.path }, () => {
      const who = whoami.tenant ? `${whoami.role} of tenant ${whoami.tenant.name}` : whoami.role;
      context.out.line(`Logged in to ${url} as ${who}.`);
      context.out.note(`Credentials stored in ${context.config.path}`);
    });
  },
};
