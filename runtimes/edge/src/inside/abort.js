// AbortController and AbortSignal per the DOM standard, on event-target-shim's EventTarget (no
// maintained standalone package fits an isolate: abort-controller needs event-target-shim 5 and
// lacks timeout/any/reason). Required lazily by the bootstrap.
import { defineEventAttribute, Event, EventTarget } from "event-target-shim";

export { Event, EventTarget };

/** CustomEvent (DOM): an Event carrying `detail`. */
export class CustomEvent extends Event {
  #detail;

  constructor(type, eventInitDict = undefined) {
    super(type, eventInitDict);
    this.#detail = eventInitDict?.detail ?? null;
  }

  get detail() {
    return this.#detail;
  }

  get [Symbol.toStringTag]() {
    return "CustomEvent";
  }
}

const CREATE = Symbol("create");
let abortSignal = null;

const abortError = () => new globalThis.DOMException("This operation was aborted", "AbortError");

export class AbortSignal extends EventTarget {
  #aborted = false;
  #reason = undefined;
  /** Signals made by AbortSignal.any() that follow this one. */
  #dependents = [];
  /** For a signal made by AbortSignal.any(): the non-composite signals it follows (DOM "source signals"). */
  #sources = null;

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
    // DOM: a composite follows the sources of the composites it is given, never a composite, so
    // every dependent hangs off an original signal and abort events fire in creation order.
    result.#sources = [];
    for (const signal of /** @type {Iterable<AbortSignal>} */ (signals)) {
      for (const source of signal.#sources ?? [signal]) {
        if (result.#sources.includes(source)) continue;
        result.#sources.push(source);
        source.#dependents.push(result);
      }
    }
    return result;
  }

  /** @param {AbortSignal} signal */
  static #signalAbort(signal, reason) {
    if (signal.#aborted) return;
    signal.#aborted = true;
    signal.#reason = reason === undefined ? abortError() : reason;
    // DOM "signal abort": every dependent is aborted (with the same reason) before any event fires.
    const dependents = signal.#dependents.filter((dependent) => !dependent.#aborted);
    signal.#dependents = [];
    for (const dependent of dependents) {
      dependent.#aborted = true;
      dependent.#reason = signal.#reason;
    }
    const fire = (target) =>
      /** @type {EventTarget} */ (/** @type {unknown} */ (target)).dispatchEvent(new Event("abort"));
    fire(signal);
    for (const dependent of dependents) fire(dependent);
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

// DOM: AddEventListenerOptions.signal is an AbortSignal, not nullable: event-target-shim takes any
// value (null included) as "no signal".
const shimAddEventListener = EventTarget.prototype.addEventListener;
Object.defineProperty(EventTarget.prototype, "addEventListener", {
  // Two declared parameters: the IDL operation's length.
  value: function addEventListener(type, callback, ...rest) {
    const options = rest[0];
    if (typeof options === "object" && options !== null) {
      const signal = options.signal;
      if (signal !== undefined && !(signal instanceof AbortSignal)) {
        throw new TypeError("addEventListener: options.signal must be an AbortSignal");
      }
    }
    return shimAddEventListener.call(this, type, callback, ...rest);
  },
  writable: true,
  configurable: true,
});
