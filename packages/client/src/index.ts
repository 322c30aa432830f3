export type * from "./api-types.ts";
export { KumoApiError } from "./kumo-api-error.ts";
export {
  type AsyncOptions,
  type InvokeResponse,
  KumoClient,
  type KumoClientOptions,
  type RequestOptions,
  type WaitOptions,
} from "./kumo-client.ts";
export type { paths as KumoApiPaths } from "./openapi.generated.ts";
export { parseSse, type SseEvent } from "./sse.ts";
