import { parseSse, type SseEvent } from "@kumo/client";
import { describe, expect, it } from "vitest";

async function collect(chunks: string[]): Promise<SseEvent[]> {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
  const events: SseEvent[] = [];
  for await (const event of parseSse(body)) events.push(event);
  return events;
}

describe("sse - parser", () => {
  it("parses events split across chunks, CRLF and comments", async () => {
    const events = await collect([
      ": keep-alive\n\nevent: lo",
      'g\ndata: {"line":"a"}\r',
      '\n\r\nevent: status\ndata: {"status":\n',
      'data: "succeeded"}\n\n',
    ]);
    expect(events).toEqual([
      { event: "log", data: '{"line":"a"}' },
      { event: "status", data: '{"status":\n"succeeded"}' },
    ]);
  });

  it("dispatches a last event that is not followed by a blank line", async () => {
    expect(await collect(["data: x"])).toEqual([{ event: "message", data: "x" }]);
  });
});
