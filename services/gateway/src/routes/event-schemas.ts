import { eventTypeProblem } from "@kumo/core";
import { z } from "zod";
import { pageQuery } from "../http/pagination.ts";

/** Request schemas of the event routes; a bad type is FN_006 naming `body.type`. */
const eventType = z
  .string()
  .max(200)
  .superRefine((type, c) => {
    const problem = eventTypeProblem(type);
    if (problem) c.addIssue({ code: "custom", message: problem });
  });

export const publishEventBody = z.strictObject({
  type: eventType,
  data: z.unknown().optional(),
  id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'must be 1 to 128 letters, digits, ".", "_", ":" or "-"')
    .optional(),
});

export const listEventsQuery = pageQuery.extend({ type: eventType.optional() });
