import { queueNameProblem } from "@kumo/core";
import { z } from "zod";

/** Request schemas of the queue routes; a bad queue name or message is FN_006 naming the field. */

/** Messages one publish may carry. */
export const MAX_MESSAGES_PER_PUBLISH = 1000;
/** One message's data, as JSON, at most (a NATS message must hold it with its envelope). */
export const MAX_MESSAGE_DATA_BYTES = 256 * 1024;

const kumoQueueName = z
  .string()
  .max(63)
  .superRefine((name, c) => {
    const problem = queueNameProblem(name, false);
    if (problem) c.addIssue({ code: "custom", message: problem });
  });

/** A Kumo queue's name; dead letters may also belong to a RabbitMQ queue (any printable name). */
export const queueParams = z.object({ name: kumoQueueName });
export const deadLetterParams = z.object({
  name: z
    .string()
    .max(200)
    .superRefine((name, c) => {
      const problem = queueNameProblem(name, true);
      if (problem) c.addIssue({ code: "custom", message: problem });
    }),
});

const messageId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'must be 1 to 128 letters, digits, ".", "_", ":" or "-"');
const messageKey = z.string().min(1).max(256);

const message = z.strictObject({
  data: z.unknown().refine((d) => d !== undefined, "is required (any JSON value; null is fine)"),
  /** Ordered triggers process messages of one key in publish order. */
  key: messageKey.optional(),
  /** A repeated id (within 10 minutes) is not stored again. */
  id: messageId.optional(),
});

/** One message `{data, key?, id?}` or a batch `{messages: [...]}` (in order). */
export const publishMessagesBody = z
  .strictObject({
    data: z.unknown().optional(),
    key: messageKey.optional(),
    id: messageId.optional(),
    messages: z.array(message).min(1).max(MAX_MESSAGES_PER_PUBLISH).optional(),
  })
  .superRefine((body, c) => {
    const single = body.data !== undefined || body.key !== undefined || body.id !== undefined;
    if (body.messages !== undefined && single) {
      c.addIssue({
        code: "custom",
        path: ["messages"],
        message: "give either messages (a batch) or one message's data, key and id, not both",
      });
    } else if (body.messages === undefined && body.data === undefined) {
      c.addIssue({
        code: "custom",
        path: ["data"],
        message: "is required: publish {data, key?, id?} or {messages: [{data, key?, id?}, ...]}",
      });
    }
  });

export const deadLettersQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  /** The `nextCursor` of the previous page. */
  cursor: z.coerce.number().int().min(0).default(0),
});
