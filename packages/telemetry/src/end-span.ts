import { type Span, SpanStatusCode } from "@opentelemetry/api";

/**
 * Ends a span with its outcome: an error code (a Kumo code such as FN_004, or what was thrown)
 * marks it failed with `error.type`; no error leaves the status unset, as the conventions ask.
 */
export function endSpan(span: Span, error?: { code: string; message: string } | unknown): void {
  if (error !== undefined && error !== null) {
    const coded = codedOf(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: coded.message });
    span.setAttribute("error.type", coded.code);
  }
  span.end();
}

function codedOf(error: unknown): { code: string; message: string } {
  if (typeof error === "object" && error !== null) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    if (typeof code === "string" && typeof message === "string") return { code, message };
    if (error instanceof Error) return { code: error.name, message: error.message };
  }
  return { code: "Error", message: String(error) };
}
