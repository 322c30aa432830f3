export { type BundleOptions, bundleEdgeFunction, ENTRY_CANDIDATES, type EdgeBundle } from "./bundle-edge-function.ts";
export { createEdgeProvider, type EdgeProvider, isolateLimitsOf } from "./edge-provider.ts";
export { DEFAULT_FETCH_POLICY, type EdgeProviderOptions } from "./edge-provider-options.ts";
export type { EdgeStats } from "./edge-stats.ts";
export type { FetchPolicy, IsolateLimits } from "./host-protocol.ts";
export { isRestrictedAddress } from "./host/address-policy.ts";
