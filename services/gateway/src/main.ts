import { runService } from "@kumo/core";
import { startTelemetry } from "@kumo/telemetry";
import { loadGatewayConfig, start } from "./index.ts";

await runService("kumo-gateway", async (log) => {
  const telemetry = await startTelemetry("kumo-gateway");
  const service = await start(loadGatewayConfig(process.env), { log });
  // Spans still buffered are exported after the service has drained.
  return { ...service, stop: () => service.stop().finally(() => telemetry.stop()) };
});
