import { runService } from "@kumo/core";
import { loadGatewayConfig, start } from "./index.ts";

await runService("kumo-gateway", async (log) => start(loadGatewayConfig(process.env), { log }));
