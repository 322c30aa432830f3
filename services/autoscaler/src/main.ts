import { runService } from "@kumo/core";
import { startTelemetry } from "@kumo/telemetry";
import { loadAutoscalerConfig, start } from "./index.ts";

await runService("kumo-autoscaler", async (log) => {
  const telemetry = await startTelemetry("kumo-autoscaler");
  const service = await start(loadAutoscalerConfig(process.env), { log });
  // Spans still buffered are exported after the service has drained.
  return { ...service, stop: () => service.stop().finally(() => telemetry.stop()) };
});
