import { runService } from "@kumo/core";
import { loadAutoscalerConfig, start } from "./index.ts";

await runService("kumo-autoscaler", async (log) => start(loadAutoscalerConfig(process.env), { log }));
