import { runService } from "@kumo/core";
import { loadSchedulerConfig, start } from "./index.ts";

await runService("kumo-scheduler", async (log) => start(loadSchedulerConfig(process.env), { log }));
