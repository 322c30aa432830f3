/**
 * Heading anchors the way GitHub makes them (lower case, punctuation other than "-" and "_" dropped,
 * spaces to "-"), so a link such as `error-codes.md#fn_006` resolves both on the site and when the
 * Markdown is read on a code host. Used by the site config and by the link check.
 */
export function slugify(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/<[^>]*>/g, "")
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}
