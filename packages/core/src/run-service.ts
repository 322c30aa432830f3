import { KumoError } from "./errors.ts";

export interface RunningService {
  url?: string;
  stop(): Promise<void>;
}

/**
 * What every service's main.ts does: start, report where it listens, drain on SIGINT/SIGTERM, and
 * exit non-zero with the reason when configuration or a dependency is wrong.
 */
export async function runService(
  name: string,
  startService: (log: (line: string) => void) => Promise<RunningService>,
): Promise<void> {
  const log = (line: string) => process.stdout.write(`${name}: ${line}\n`);
  try {
    const service = await startService(log);
    log(service.url ? `ready on ${service.url}` : "ready");
    const shutdown = async (signal: string) => {
      log(`${signal}: draining`);
      await service.stop();
      process.exit(0);
    };
    process.once("SIGINT", () => void shutdown("SIGINT"));
    process.once("SIGTERM", () => void shutdown("SIGTERM"));
  } catch (error) {
    process.stderr.write(
      `${name}: cannot start: ${error instanceof KumoError || error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  }
}
