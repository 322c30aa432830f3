import { type Context, type ContextManager, ROOT_CONTEXT } from "@opentelemetry/api";

/**
 * A context manager that keeps no ambient context: Kumo hands every span its parent explicitly
 * (a traceparent in the invocation's headers, a request's span), so nothing needs the "active"
 * context. The SDK's default, AsyncLocalStorage, would switch on async hooks for the whole process
 * the first time the exporter uses it, and every promise of every request would pay for that
 * (measured: most of the cost of tracing at 1 % sampling).
 */
export class ExplicitContextManager implements ContextManager {
  active(): Context {
    return ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    _context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return fn.call(thisArg, ...args);
  }

  bind<T>(_context: Context, target: T): T {
    return target;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    return this;
  }
}
