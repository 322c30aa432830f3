/** One message a queue source handed to its trigger, not yet settled. */
export interface SourceMessage {
  /** What names it at the source (a stream sequence, a broker delivery), for the batch's dedupe id. */
  ref: string | number;
  id: string;
  key: string | null;
  data: unknown;
  publishedAt: string | null;
  /** Deliveries to the function so far, the coming one included. */
  deliveries: number;
}

/**
 * Where a queue trigger's messages come from: a tenant queue in JetStream, or a queue on the
 * tenant's RabbitMQ. The runner is the same for both; a source only moves messages.
 */
export interface QueueSource {
  /** Connects (and creates the durable consumer); throws with a message the trigger state shows. */
  open(): Promise<void>;
  /**
   * Waits for the first message (up to a poll interval: [] when none came), then up to `windowMs`
   * more for the batch to fill up to `max`.
   */
  collect(max: number, windowMs: number): Promise<SourceMessage[]>;
  /** Extends the messages' ack deadlines while their batch runs. */
  keepAlive(messages: readonly SourceMessage[]): void;
  ack(message: SourceMessage): Promise<void>;
  /** Hands the message back for a later batch, after `delayMs`, its deliveries counted. */
  retry(message: SourceMessage, delayMs: number): Promise<void>;
  /** Messages waiting for the trigger (null: unknown now). */
  lag(): Promise<number | null>;
  /** Set when the source broke after opening (the broker closed the connection). */
  readonly broken: Error | undefined;
  close(): Promise<void>;
}
