import type { Command } from "../command.ts";

export const logoutCommand: Command = {
  name: "logout",
  summary: "Forget the stored API key",
  help: "Usage: kumo logout\n\nRemoves the key from the config file; the gateway URL is kept.",
  options: {},
  async run(context, args) {
    args.atMost(0);
    const stored = await context.config.read();
    await context.config.write(stored.url === undefined ? {} : { url: stored.url });
    context.out.result({ loggedOut: true, url: stored.url ?? null }, () => {
      context.out.line(stored.apiKey ? `Logged out of ${stored.url ?? "Kumo"}.` : "Not logged in.");
    });
  },
};
