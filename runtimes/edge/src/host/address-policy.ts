// The address policy is shared with the autoscaler (async destination webhooks); it lives in
// @kumo/core and is imported through its own subpath so the isolate host bundle stays small.
export { isAllowedHost, isRestrictedAddress } from "@kumo/core/address-policy";
