/**
 * Builds an API path with every interpolated value URL-encoded, so a name can never add a path
 * segment: apiPath`/v1/functions/${name}/env/${key}`.
 */
export function apiPath(strings: TemplateStringsArray, ...values: (string | number)[]): string {
  let out = strings[0] ?? "";
  values.forEach((value, i) => {
    out += encodeURIComponent(String(value)) + (strings[i + 1] ?? "");
  });
  return out;
}
