import { type NatsConnection, subjects } from "@kumo/bus";
import { InvocationLogCap, type LogOwner, logRow, type Recorder, structureLogLine } from "@kumo/db";
import type { ContainerLogLine } from "./instance.ts";

export interface LogShipperOptions {
  nc: NatsConnection;
  recorder: Recorder;
  namespace: string;
  /** Per-invocation cap of log bytes (KUMO_LOG_CAP_BYTES). */
  capBytes: number;
}

interface Shipped {
  ts: number;
  invocationId: string | null;
  line: ReturnType<typeof structureLogLine>;
}

/**
 * Function logs from container streams, batched per function version: structured (a JSON line
 * keeps its fields and its own level), held to the per-invocation cap, then published to the
 * live-tail subject (`subjects.logs`, what `logs?follow=1` on any gateway listens to) and stored
 * through the recorder.
 */
export class LogShipper {
  readonly #options: LogShipperOptions;
  readonly #cap: InvocationLogCap;
  readonly #buffers = new Map<string, { owner: LogOwner; lines: Shipped[] }>();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: LogShipperOptions) {
    this.#options = options;
    this.#cap = new InvocationLogCap(options.capBytes);
  }

  add(owner: LogOwner, line: ContainerLogLine): void {
    const kept = this.#cap.admit(line.invocationId, structureLogLine(line.level, line.message));
    if (kept.length === 0) return;
    const key = `${owner.tenantId}/${owner.functionId}/${owner.version ?? ""}`;
    let buffer = this.#buffers.get(key);
    if (!buffer) {
      buffer = { owner, lines: [] };
      this.#buffers.set(key, buffer);
    }
    for (const k of kept) buffer.lines.push({ ts: line.ts, invocationId: line.invocationId, line: k });
    if (!this.#timer) {
      this.#timer = setTimeout(() => this.flush(), 50);
      this.#timer.unref();
    }
  }

  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const { nc, recorder, namespace } = this.#options;
    for (const { owner, lines } of this.#buffers.values()) {
      if (!nc.isClosed()) {
        nc.publish(
          subjects.logs(owner.tenantId, owner.functionId, namespace),
          JSON.stringify(
            lines.map((l) => ({
              ts: new Date(l.ts).toISOString(),
              invocationId: l.invocationId,
              version: owner.version ?? null,
              level: l.line.level,
              message: l.line.message,
              fields: l.line.fields,
            })),
          ),
        );
      }
      recorder.record(
        null,
        lines.map((l) => logRow(owner, l.invocationId, new Date(l.ts), l.line)),
      );
    }
    this.#buffers.clear();
  }
}
