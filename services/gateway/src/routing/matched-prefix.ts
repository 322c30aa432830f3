/**
 * The part of a request path a route consumed: the path minus what the route's `*` matched (`rest`,
 * raw segments joined by "/", as RouteTrie returns it), without a trailing "/". The function sees
 * `/${rest}`, so this is what X-Forwarded-Prefix tells it; "" when the route passed the whole path.
 */
export function matchedPrefix(path: string, rest: string): string {
  const trimmed = withoutTrailingSlashes(path);
  if (rest === "") return trimmed;
  if (trimmed.endsWith(`/${rest}`))
    return withoutTrailingSlashes(trimmed.slice(0, trimmed.length - rest.length - 1));
  // Repeated slashes: RouteTrie skips empty segments, so count segments instead.
  const segments = trimmed.split("/").filter((s) => s.length > 0);
  const keep = segments.length - rest.split("/").length;
  return keep > 0 ? `/${segments.slice(0, keep).join("/")}` : "";
}

function withoutTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 0 && path.charCodeAt(end - 1) === 47) end--;
  return end === path.length ? path : path.slice(0, end);
}
