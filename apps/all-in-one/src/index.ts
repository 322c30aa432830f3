export { DEV_TENANT, type DevTenantKey, ensureDevTenant } from "./dev-tenant.ts";
export { LAUNCH_ERRORS, LaunchError, type LaunchErrorCode } from "./launch-error.ts";
export { type AllInOneOptions, runAllInOne } from "./run-all-in-one.ts";
export { type StopReason, type StopRequests, watchStopRequests } from "./stop-requests.ts";
