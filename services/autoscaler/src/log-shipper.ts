import { type NatsConnection, subjects } from "@kumo/bus";
import type { Recorder } from "@kumo/db";
import type { ContainerLogLine } from "./instance.ts";

/**
 * Function logs from container streams, batched per function: published to the live-tail subject
 * (`subjects.logs`, what `logs?follow=1` on any gateway listens to) and stored through the recorder.
 */
export class LogShipper {
  readonly #nc: NatsConnection;
  readonly #recorder: Recorder;
  readonly #namespace: string;
  readonly #buffers = new Map<string, { tenantId: string; functionId: string; lines: ContainerLogLine[] }>();
  #timer: NodeJS.Timeout | undefined;

  constructor(nc: NatsConnection, recorder: Recorder, namespace: string) {
    this.#nc = nc;
    this.#recorder = recorder;
    this.#namespace = namespace;
  }

  add(tenantId: string, functionId: string, line: ContainerLogLine): void {
    const key = `${tenantId}/${functionId}`;
    let buffer = this.#buffers.get(key);
    if (!buffer) {
      buffer = { tenantId, functionId, lines: [] };
      this.#buffers.set(key, buffer);
    }
    buffer.lines.push(line);
    if (!this.#timer) {
      this.#timer = setTimeout(() => this.flush(), 50);
      this.#timer.unref();
    }
  }

  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const { tenantId, functionId, lines } of this.#buffers.values()) {
      if (!this.#nc.isClosed()) {
        this.#nc.publish(
          subjects.logs(tenantId, functionId, this.#namespace),
          JSON.stringify(
            lines.map((l) => ({
              ts: new Date(l.ts).toISOString(),
              invocationId: l.invocationId,
              level: l.level,
              message: l.message,
            })),
          ),
        );
      }
      this.#recorder.record(
        null,
        lines.map((l) => ({
          tenant_id: tenantId,
          function_id: functionId,
          invocation_id: l.invocationId,
          ts: new Date(l.ts),
          level: l.level,
          message: l.message,
        })),
      );
    }
    this.#buffers.clear();
  }
}
