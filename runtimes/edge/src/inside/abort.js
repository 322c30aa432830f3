// AbortController and AbortSignal per the DOM standard, on event-target-shim's EventTarget (no
// maintained standalone package fits an isolate: abort-controller needs event-target-shim 5 and
// lacks timeout/any/reason). Required lazily by the bootstrap.
import { defineEventAttribute, Event, EventTarget } from "event-target-shim";

export { Event, EventTarget };

const CREATE = Symbol("create");
let abortSignal = null;

const abortError = () => new globalThis.DOMException("This operation was aborted", "AbortError");

export class AbortSignal extends EventTarget {
  #aborted = false;
  #reason = undefined;
  /** Signals made by AbortSignal.any() that follow this one. */
  #dependents = [];

  constructor(key) {
    if (key !== CREATE) throw new TypeError("Illegal constructor");
    super();
  }

  get aborted() {
    return this.#aborted;
  }

  get reason() {
    return this.#reason;
  }

  throwIfAborted() {
    if (this.#aborted) throw this.#reason;
  }

  static abort(reason) {
    const signal = new AbortSignal(CREATE);
    signal.#aborted = true;
    signal.#reason = reason === undefined ? abortError() : reason;
    return signal;
  }

  static timeout(ms) {
    const delay = Number(ms);
    if (!Number.isFinite(delay) || delay < 0) throw new TypeError(`Invalid timeout: ${ms}`);
    const signal = new AbortSignal(CREATE);
    setTimeout(
      () =>
        AbortSignal.#signalAbort(
          signal,
          new globalThis.DOMException("The operation timed out.", "TimeoutError"),
        ),
      delay,
    );
    return signal;
  }

  static any(signals) {
    const result = new AbortSignal(CREATE);
    for (const signal of signals) {
      if (!(signal instanceof AbortSignal)) throw new TypeError("AbortSignal.any() takes AbortSignals");
      if (signal.#aborted) {
        result.#aborted = true;
        result.#reason = signal.#reason;
        return result;
      }
    }
    for (const signal of /** @type {Iterable<AbortSignal>} */ (signals)) signal.#dependents.push(result);
    return result;
  }

  /** @param {AbortSignal} signal */
  static #signalAbort(signal, reason) {
    if (signal.#aborted) return;
    signal.#aborted = true;
    signal.#reason = reason === undefined ? abortError() : reason;
    const dependents = signal.#dependents;
    signal.#dependents = [];
    /** @type {EventTarget} */ (/** @type {unknown} */ (signal)).dispatchEvent(new Event("abort"));
    for (const dependent of dependents) AbortSignal.#signalAbort(dependent, signal.#reason);
  }

  static {
    abortSignal = (signal, reason) => AbortSignal.#signalAbort(signal, reason);
  }

  get [Symbol.toStringTag]() {
    return "AbortSignal";
  }
}
defineEventAttribute(AbortSignal.prototype, "abort");

export class AbortController {
  #signal = new AbortSignal(CREATE);

  get signal() {
    return this.#signal;
  }

  abort(reason) {
    abortSignal(this.#signal, reason);
  }

  get [Symbol.toStringTag]() {
    return "AbortController";
  }
}
