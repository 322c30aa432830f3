import { invalid } from "@kumo/core";

/** One segment of a route pattern: literal text, a named parameter, or the trailing wildcard. */
export type PatternSegment =
  | { kind: "static"; text: string }
  | { kind: "param"; name: string }
  | { kind: "wildcard" };

export interface RoutePattern {
  /** As written, e.g. "/users/:id/*". */
  path: string;
  segments: PatternSegment[];
  /** Param names dropped ("/users/:/*"): patterns with equal keys match exactly the same paths. */
  key: string;
}

const PARAM = /^:[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const STATIC = /^[A-Za-z0-9._~!$&'()+,;=@-]+$/;
const MAX_SEGMENTS = 32;

/**
 * Parses a tenant's route path: "/" followed by segments that are literal, `:name`, or a final `*`
 * (zero or more remaining segments). Empty segments are ignored, so "/a//b/" is "/a/b".
 */
export function parseRoutePattern(path: string): RoutePattern {
  const problem = (message: string) =>
    invalid(`invalid route path "${path}": ${message}`, {
      problems: [{ field: "body.path", rule: "pattern", message }],
    });
  if (!path.startsWith("/")) throw problem('it must start with "/"');
  if (path.length > 1000) throw problem("it is longer than 1000 characters");
  const parts = path.split("/").filter((p) => p.length > 0);
  if (parts.length > MAX_SEGMENTS) throw problem(`it has more than ${MAX_SEGMENTS} segments`);
  const segments: PatternSegment[] = [];
  const names = new Set<string>();
  parts.forEach((part, i) => {
    if (part === "*") {
      if (i !== parts.length - 1) throw problem('"*" may only be the last segment');
      segments.push({ kind: "wildcard" });
    } else if (part.startsWith(":")) {
      if (!PARAM.test(part))
        throw problem(
          `parameter "${part}" must be ":" followed by a letter or "_", then letters, digits or "_"`,
        );
      const name = part.slice(1);
      if (names.has(name)) throw problem(`parameter ":${name}" appears twice`);
      names.add(name);
      segments.push({ kind: "param", name });
    } else {
      if (!STATIC.test(part) || part === "." || part === "..")
        throw problem(`segment "${part}" holds characters a path segment cannot (or is "." / "..")`);
      segments.push({ kind: "static", text: part });
    }
  });
  const key = `/${segments.map((s) => (s.kind === "static" ? s.text : s.kind === "param" ? ":" : "*")).join("/")}`;
  return { path, segments, key };
}
