/** What can stop the launcher, each with the exit code scripts see. */
export const LAUNCH_ERRORS = {
  USAGE: 2,
  ADDRESS_IN_USE: 1,
  INTERRUPTED: 130,
  CONFIG: 1,
} as const;

export type LaunchErrorCode = keyof typeof LAUNCH_ERRORS;

/** An error the launcher explains itself: a code, a message and a hint that says what to do. */
export class LaunchError extends Error {
  readonly code: LaunchErrorCode;
  readonly hint: string | undefined;

  constructor(code: LaunchErrorCode, message: string, options: { cause?: unknown; hint?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "LaunchError";
    this.code = code;
    this.hint = options.hint;
  }

  get exitCode(): number {
    return LAUNCH_ERRORS[this.code];
  }
}

export const interrupted = () => new LaunchError("INTERRUPTED", "interrupted");
