export {
  AckPolicy,
  type Consumer,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
export { type KV, Kvm } from "@nats-io/kv";
export { type ObjectStore, Objm } from "@nats-io/obj";
export type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
export { createInbox, headers as natsHeaders } from "@nats-io/transport-node";
export {
  AsyncInvocations,
  type AsyncInvocationsOptions,
  type PublishAsyncOptions,
} from "./async-invocations.ts";
export { type ConnectBusOptions, connectBus } from "./connect-bus.ts";
export { type CronEvent, type CronFiring, cronInvocation } from "./cron-invocation.ts";
export {
  DATABASE_CHANGE_KINDS,
  type DatabaseChange,
  type DatabaseChangeKind,
  type DatabaseEvent,
  databaseInvocation,
  type ReplicaIdentity,
} from "./database-invocation.ts";
export {
  LinkClient,
  type LinkClientOptions,
  type LinkMessage,
  LinkServer,
  type LinkServerOptions,
  MAX_LINK_PATH_BYTES,
} from "./direct-link.ts";
export { type DomainEvent, type EventDeliveryInput, eventInvocation } from "./event-invocation.ts";
export {
  decodeFrame,
  encodeFrame,
  type FrameMeta,
  type InvokeReplyMeta,
  type InvokeRequestMeta,
  maxFramePayload,
} from "./invocation-frame.ts";
export {
  deleteNamespaceStreams,
  ensureDestinationConsumer,
  ensureInvocationConsumer,
  ensureInvocationStreams,
  type InvocationStreamsOptions,
} from "./invocation-streams.ts";
export { type InvocationTarget, invokeRequestMeta } from "./invoke-request-meta.ts";
export { type NodeBeat, NodeLinks, type NodeLinksOptions, subscribeNodeBeats } from "./node-links.ts";
export { PublishBatcher } from "./publish-batcher.ts";
export {
  type QueueBatchInput,
  type QueueEvent,
  type QueueEventMessage,
  queueInvocation,
} from "./queue-invocation.ts";
export { PULL_EXPIRES_MS, streamReplicas } from "./replicas.ts";
export { type StreamAck, StreamPublisher, type StreamPublisherOptions } from "./stream-publisher.ts";
export { headers, queueNameOfSubject, streams, subjects } from "./subjects.ts";
export {
  decodeQueueMessage,
  encodeQueueMessage,
  type PublishedQueueMessage,
  type QueueDeadLetter,
  type QueueDepth,
  type QueueMessage,
  TenantQueues,
  type TenantQueuesOptions,
} from "./tenant-queues.ts";
