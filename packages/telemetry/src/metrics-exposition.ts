import type {
  OpenMetricsContentType,
  PrometheusContentType,
  Registry,
  RegistryContentType,
} from "prom-client";

/** prom-client's two formats (Registry.PROMETHEUS_CONTENT_TYPE, Registry.OPENMETRICS_CONTENT_TYPE). */
const PROMETHEUS_TEXT: PrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";
const OPENMETRICS_TEXT: OpenMetricsContentType = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/** A scrape's answer: the body and the content type it is written in. */
export interface MetricsExposition {
  contentType: string;
  body: string;
}

/**
 * Whether the scraper accepts OpenMetrics text (Prometheus asks for it first by default): only that
 * format carries exemplars. A media type listed with `q=0` is refused.
 */
export function acceptsOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(",").some((entry) => {
    const [type = "", ...params] = entry.split(";").map((p) => p.trim().toLowerCase());
    if (type !== "application/openmetrics-text") return false;
    const q = params.find((p) => p.startsWith("q="));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/**
 * Renders one registry in either format, as the scraper asks. prom-client renders in the format
 * its registry is set to, and an OpenMetrics render renames counters in place (it drops their
 * `_total`, which the format adds back per sample), so renders take turns: each sets the format,
 * and an OpenMetrics render puts the counters' names back when it is done.
 */
export class MetricsExposer {
  readonly #registry: Registry<RegistryContentType>;
  #turn: Promise<unknown> = Promise.resolve();

  constructor(registry: Registry<PrometheusContentType> | Registry<OpenMetricsContentType>) {
    // Only this class switches the registry's format, and always back to Prometheus text.
    this.#registry = registry as Registry<RegistryContentType>;
  }

  /**
   * Creates metrics that keep exemplars (prom-client accepts `enableExemplars` only while the
   * registry is in OpenMetrics format; renders still choose the format per scrape).
   */
  withExemplars<T>(create: () => T): T {
    this.#registry.setContentType(OPENMETRICS_TEXT);
    try {
      return create();
    } finally {
      this.#registry.setContentType(PROMETHEUS_TEXT);
    }
  }

  /** The registry's metrics for a scraper that sent this Accept header. */
  scrape(accept: string | undefined): Promise<MetricsExposition> {
    const openMetrics = acceptsOpenMetrics(accept);
    const render = this.#turn.then(() => this.#render(openMetrics));
    this.#turn = render.catch(() => undefined);
    return render;
  }

  async #render(openMetrics: boolean): Promise<MetricsExposition> {
    const registry = this.#registry;
    const contentType = openMetrics ? OPENMETRICS_TEXT : PROMETHEUS_TEXT;
    const names = openMetrics
      ? registry.getMetricsAsArray().map((metric) => [metric, metric.name] as const)
      : [];
    registry.setContentType(contentType);
    try {
      return { contentType, body: await registry.metrics() };
    } finally {
      for (const [metric, name] of names) (metric as { name: string }).name = name;
      registry.setContentType(PROMETHEUS_TEXT);
    }
  }
}
