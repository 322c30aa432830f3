// The `context` a Lambda-style handler(event, context) receives, the same fields in every JS runtime
// (edge isolate bootstrap, node/bun/deno shim; see lambda-event.mjs for how it is shipped).

/**
 * @typedef {object} LambdaContextInfo
 * @property {string} invocationId
 * @property {string} functionName
 * @property {string} [functionVersion]
 * @property {number} deadline Epoch ms after which the invocation is a timeout.
 * @property {string} [eventType] Set for event invocations (cron, queue, ...), absent for HTTP.
 * @property {string} [traceparent]
 * @property {Record<string, string | undefined>} env The function's environment.
 * @property {(promise: unknown) => void} waitUntil Work the runtime waits for after the response.
 */

/** @param {LambdaContextInfo} info */
export function lambdaContext(info) {
  const deadline = info.deadline;
  return {
    awsRequestId: info.invocationId,
    invocationId: info.invocationId,
    functionName: info.functionName,
    functionVersion: info.functionVersion,
    deadline,
    eventType: info.eventType,
    traceparent: info.traceparent,
    env: info.env,
    waitUntil: info.waitUntil,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    callbackWaitsForEmptyEventLoop: false,
  };
}
