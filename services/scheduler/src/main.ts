import { runService } from "@kumo/core";
import { startTelemetry } from "@kumo/telemetry";
import { loadSchedulerConfig, start } from "./index.ts";

await runService("kumo-scheduler", async (log) => {
  const telemetry = await startTelemetry("kumo-scheduler");
  const service = await start(loadSchedulerConfig(process.env), { log });
  // Spans still buffered are exported after the service has drained.
  return { ...service, stop: () => service.stop().finally(() => telemetry.stop()) };
});
