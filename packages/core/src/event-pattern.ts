/**
 * Event types and the patterns functions subscribe with. A type is dot-separated segments
 * (`payment.processed`); a pattern is a type whose segments may be `*` (exactly one segment) and
 * whose last segment may be `>` (one or more segments), as NATS subjects read.
 */
const SEGMENT = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_LENGTH = 200;
const MAX_SEGMENTS = 16;

/** What is wrong with an event type, or undefined when it is valid. */
export function eventTypeProblem(type: string): string | undefined {
  return segmentsProblem(type, false);
}

/** What is wrong with a subscription pattern, or undefined when it is valid. */
export function eventPatternProblem(pattern: string): string | undefined {
  return segmentsProblem(pattern, true);
}

/** Whether an event of `type` reaches a subscriber of `pattern` (both already valid). */
export function matchesEventPattern(pattern: string, type: string): boolean {
  const want = pattern.split(".");
  const got = type.split(".");
  for (let i = 0; i < want.length; i++) {
    const segment = want[i];
    if (segment === ">") return got.length > i;
    if (i >= got.length) return false;
    if (segment !== "*" && segment !== got[i]) return false;
  }
  return want.length === got.length;
}

function segmentsProblem(value: string, wildcards: boolean): string | undefined {
  if (value.length === 0 || value.length > MAX_LENGTH) return `must be 1 to ${MAX_LENGTH} characters`;
  const segments = value.split(".");
  if (segments.length > MAX_SEGMENTS) return `must have at most ${MAX_SEGMENTS} dot-separated segments`;
  for (const [i, segment] of segments.entries()) {
    if (wildcards && segment === "*") continue;
    if (wildcards && segment === ">") {
      if (i === segments.length - 1) continue;
      return `"${">"}" may only be the last segment (e.g. "user.>")`;
    }
    if (!SEGMENT.test(segment)) {
      return wildcards
        ? `segment ${i + 1} ("${segment}") must be letters, digits, "_" or "-", or a "*" wildcard for one segment (e.g. "user.*")`
        : `segment ${i + 1} ("${segment}") must be letters, digits, "_" or "-" (e.g. "payment.processed"); wildcards belong in subscriptions, not events`;
    }
  }
  return undefined;
}
