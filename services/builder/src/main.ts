import { runService } from "@kumo/core";
import { loadBuilderConfig, start } from "./index.ts";

await runService("kumo-builder", async () => start(loadBuilderConfig(process.env)));
