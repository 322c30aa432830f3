import type { Page, QueryValue } from "./api-client.ts";
import type { Output } from "./output.ts";
import type { OptionSpecs, ParsedArgs } from "./parsed-args.ts";

/** `--limit` and `--cursor`, taken by every command that lists. */
export const LIST_OPTIONS = {
  limit: { type: "string" },
  cursor: { type: "string" },
} as const satisfies OptionSpecs;

export const LIST_HELP = `  --limit N     at most N items
  --cursor C    continue after a previous page`;

export function listQuery(args: ParsedArgs): Record<string, QueryValue> {
  return { limit: args.int("limit", { min: 1, max: 1000 }), cursor: args.string("cursor") };
}

/** Tells a person there is more; scripts read `nextCursor` from the --json output. */
export function noteNextPage(out: Output, page: Page<unknown>, command: string): void {
  if (page.nextCursor) out.note(`more: ${command} --cursor ${page.nextCursor}`);
}
