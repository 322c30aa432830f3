export type { NatsConnection, Subscription } from "@nats-io/transport-node";
export { type ConnectBusOptions, connectBus } from "./connect-bus.ts";
export { headers, streams, subjects } from "./subjects.ts";
