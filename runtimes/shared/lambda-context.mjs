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
 * @property {string} [authClaims] The kumo-auth-claims header: the verified claims of the caller's JWT.
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
    auth: claimsOf(info.authClaims),
    waitUntil: info.waitUntil,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    callbackWaitsForEmptyEventLoop: false,
  };
}

/**
 * `context.auth`: the claims the gateway verified (functions with `httpAuth: { jwt }`), or null. The
 * gateway drops any kumo-* header a client sends, so the header is always the platform's.
 * @param {string | undefined} header
 * @returns {Record<string, unknown> | null}
 */
export function claimsOf(header) {
  if (!header) return null;
  try {
    const claims = JSON.parse(header);
    return claims !== null && typeof claims === "object" && !Array.isArray(claims) ? claims : null;
  } catch {
    return null;
  }
}
