import { KumoError } from "@kumo/core";
import { loadGatewayConfig, start } from "./index.ts";

/** Runs the gateway alone, configured by the environment. */
try {
  const config = loadGatewayConfig(process.env);
  const gateway = await start(config, { log: (line) => console.log(`kumo-gateway: ${line}`) });
  console.log(`kumo-gateway: listening on ${gateway.url}`);
  const shutdown = async (signal: string) => {
    console.log(`kumo-gateway: ${signal}, draining`);
    await gateway.stop();
    process.exit(0);
  };
  process.once("SIGINT", () => void shutdown("SIGINT"));
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
} catch (error) {
  console.error(`kumo-gateway: cannot start: ${error instanceof KumoError ? error.message : String(error)}`);
  process.exit(1);
}
