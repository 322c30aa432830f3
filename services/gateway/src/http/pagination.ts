import { z } from "zod";

/** `?limit=&cursor=` on every list. */
export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(512).optional(),
});
