/**
 * A provisioning step that cannot be completed. `step` names the line it is reported on and
 * `hint` says what the operator can do about it, so kumo.mjs can print both and exit 1 without
 * a stack trace.
 */
export class ProvisionError extends Error {
  /**
   * @param {string} step
   * @param {string} message
   * @param {string} [hint]
   */
  constructor(step, message, hint) {
    super(message);
    this.name = "ProvisionError";
    this.step = step;
    this.hint = hint;
  }
}
