import { runService } from "@kumo/core";
import { startTelemetry } from "@kumo/telemetry";
import { loadBuilderConfig, start } from "./index.ts";

await runService("kumo-builder", async () => {
  const telemetry = await startTelemetry("kumo-builder");
  const service = await start(loadBuilderConfig(process.env));
  // Spans still buffered are exported after the service has drained.
  return { ...service, stop: () => service.stop().finally(() => telemetry.stop()) };
});
