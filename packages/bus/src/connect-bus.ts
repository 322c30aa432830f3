import { connect, type NatsConnection } from "@nats-io/transport-node";

export interface ConnectBusOptions {
  /** nats://host:port (comma-separated for a cluster). */
  url: string;
  name: string;
  /** How long to keep trying on start; 0 fails at once. */
  timeoutMs?: number;
}

/** Connects to NATS with reconnects forever once up; startup fails with a message naming the URL. */
export async function connectBus(options: ConnectBusOptions): Promise<NatsConnection> {
  const servers = options.url.split(",").map((s) => s.trim().replace(/^nats:\/\//, ""));
  try {
    return await connect({
      servers,
      name: options.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      timeout: options.timeoutMs ?? 5000,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `cannot connect to NATS at ${options.url} (${reason}); set NATS_URL or start nats-server -js`,
    );
  }
}
