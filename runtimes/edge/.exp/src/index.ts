export {
  type BundleOptions,
  bundleEdgeFunction,
  type EdgeBundle,
  ENTRY_CANDIDATES,
} from "./bundle-edge-function.ts";
export { createEdgeProvider, type EdgeProvider, isolateLimitsOf } from "./edge-provider.ts";
export { DEFAULT_FETCH_POLICY, type EdgeProviderOptions } from "./edge-provider-options.ts";
export type { EdgeStats } from "./edge-stats.ts";
export { isRestrictedAddress } from "./host/address-policy.ts";
export type { FetchPolicy, IsolateLimits } from "./host-protocol.ts";
