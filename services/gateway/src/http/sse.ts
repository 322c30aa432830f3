import type { FastifyReply } from "fastify";

/** A server-sent-events stream on a raw reply; `closed` aborts when the client goes away. */
export interface SseStream {
  send(event: string, data: unknown): void;
  end(): void;
  readonly closed: AbortSignal;
}

export function openSse(reply: FastifyReply): SseStream {
  const controller = new AbortController();
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  raw.write(": kumo\n\n");
  const heartbeat = setInterval(() => raw.write(": keep-alive\n\n"), 15_000);
  heartbeat.unref();
  raw.on("close", () => {
    clearInterval(heartbeat);
    controller.abort();
  });
  return {
    send(event, data) {
      if (!controller.signal.aborted) raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    end() {
      clearInterval(heartbeat);
      raw.end();
    },
    closed: controller.signal,
  };
}
