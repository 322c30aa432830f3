import type { ErrorBody } from "./errors.ts";

/**
 * What a function's response may carry, the same for every runtime. The status must be a final
 * HTTP status: 1xx are interim responses (a client that gets one keeps waiting for the real answer)
 * and anything outside 100–599 is not HTTP. Header limits sit with the peers' (Fastly allows 96
 * response headers, Akamai EdgeWorkers 16 KB of them); 16 KiB is also what Node's HTTP client,
 * fetch included, accepts by default, so a larger head would break most Node callers anyway.
 */
export const RESPONSE_LIMITS = {
  status: { min: 200, max: 599 },
  /** Header lines; each set-cookie counts as one, the connection and framing headers none. */
  headers: 100,
  /** Header bytes as on the wire, `name: value\r\n` per header. */
  headerBytes: 16 * 1024,
} as const;

/** Headers about the connection and framing: the platform sets its own, so they are not counted. */
const FRAMING = new Set(["connection", "keep-alive", "transfer-encoding", "content-length"]);

/** Whether a value is a status a function may answer with: an integer from 200 to 599. */
export function isFinalStatus(status: unknown): status is number {
  return (
    typeof status === "number" &&
    Number.isInteger(status) &&
    status >= RESPONSE_LIMITS.status.min &&
    status <= RESPONSE_LIMITS.status.max
  );
}

/**
 * What is wrong with the head of a function's response, or undefined when nothing is: FN_004 (the
 * function's fault) for a status that is not a final HTTP status, FN_010 for headers over the
 * limits. It is checked where a response enters the platform (the isolate host, the autoscaler's
 * sync server and async worker), so no client, record or destination ever sees such a response.
 */
export function checkFunctionResponse(
  status: unknown,
  headers: Iterable<readonly [string, string]>,
): ErrorBody | undefined {
  if (!isFinalStatus(status)) {
    const shown = typeof status === "string" ? JSON.stringify(status) : String(status);
    return {
      code: "FN_004",
      message: `the function answered with status ${shown}; a response status must be an integer from ${RESPONSE_LIMITS.status.min} to ${RESPONSE_LIMITS.status.max}`,
    };
  }
  let count = 0;
  let bytes = 0;
  for (const [name, value] of headers) {
    if (name.length <= 17 && FRAMING.has(name.toLowerCase())) continue;
    count++;
    bytes += name.length + value.length + 4;
  }
  if (count > RESPONSE_LIMITS.headers) {
    return {
      code: "FN_010",
      message: `the function's response has ${count} headers; the limit is ${RESPONSE_LIMITS.headers}`,
    };
  }
  if (bytes > RESPONSE_LIMITS.headerBytes) {
    return {
      code: "FN_010",
      message: `the function's response headers take ${bytes} bytes; the limit is ${RESPONSE_LIMITS.headerBytes} bytes`,
    };
  }
  return undefined;
}
