import { tooLarge } from "@kumo/core";

/**
 * A result's body as one buffer, for answers that carry it inside JSON (step runs, draft runs).
 * Bounded: past `maxBytes` it is FN_010, never an unbounded buffer in the gateway.
 */
export async function readWholeBody(
  body: Uint8Array | AsyncIterable<Uint8Array>,
  maxBytes: number,
): Promise<Buffer> {
  if (body instanceof Uint8Array) {
    if (body.byteLength > maxBytes) throw tooLarge(`the function's answer exceeds ${maxBytes} bytes`);
    return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > maxBytes) throw tooLarge(`the function's answer exceeds ${maxBytes} bytes`);
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  }
  return Buffer.concat(chunks, size);
}
