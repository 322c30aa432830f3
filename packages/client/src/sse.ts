/** One server-sent event. */
export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/**
 * Parses a `text/event-stream` body (WHATWG rules: `\n`, `\r\n` or `\r` line ends, multi-line
 * `data:`, comments) into events; ends when the body ends. Shared with the CLI. It reads with a
 * reader because browsers' ReadableStream is not async-iterable everywhere.
 */
export async function* parseSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffer = "";
  let event = "";
  let data: string[] = [];
  let id: string | undefined;

  function* takeLines(final: boolean): Generator<SseEvent> {
    for (;;) {
      const match = /\r\n|\r|\n/.exec(buffer);
      // A lone "\r" at the end may be the first half of "\r\n": wait for more input.
      if (!match || (!final && match[0] === "\r" && match.index === buffer.length - 1)) return;
      const line = buffer.slice(0, match.index);
      buffer = buffer.slice(match.index + match[0].length);
      if (line === "") {
        if (data.length > 0) {
          const out: SseEvent = { event: event || "message", data: data.join("\n") };
          if (id !== undefined) out.id = id;
          yield out;
        }
        event = "";
        data = [];
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
      else if (field === "id") id = value;
    }
  }

  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      yield* takeLines(false);
    }
    // A final event not followed by a blank line is dispatched too: servers often end that way.
    buffer += `${decoder.decode()}\n\n`;
    yield* takeLines(true);
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
