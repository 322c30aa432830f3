/** An error answer of the Kumo API: its `{ code, message, details }` and the HTTP status. */
export class KumoApiError extends Error {
  /** FN_001 … FN_010, or FN_500; "network" when no answer came. */
  readonly code: string;
  readonly status: number;
  readonly details: unknown;

  constructor(code: string, message: string, status: number, details?: unknown) {
    super(message);
    this.name = "KumoApiError";
    this.code = code;
    this.status = status;
    this.details = details;
  }
}
