import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { acceptsOpenMetrics, MetricsExposer } from "./metrics-exposition.ts";

describe("telemetry - metrics exposition", () => {
  it("exposition - OpenMetrics only when the scraper accepts it", () => {
    expect(acceptsOpenMetrics(undefined)).toBe(false);
    expect(acceptsOpenMetrics("text/plain;version=0.0.4")).toBe(false);
    expect(acceptsOpenMetrics("*/*")).toBe(false);
    expect(
      acceptsOpenMetrics(
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
      ),
    ).toBe(true);
    expect(acceptsOpenMetrics("Application/OpenMetrics-Text; q=0")).toBe(false);
  });

  it("exposition - exemplars in OpenMetrics, plain text otherwise, counters keep their names either way", async () => {
    const registry = new Registry();
    const exposer = new MetricsExposer(registry);
    const counter = new Counter({ name: "demo_requests_total", help: "h", registers: [registry] });
    const histogram = exposer.withExemplars(
      () =>
        new Histogram({
          name: "demo_seconds",
          help: "h",
          buckets: [0.1, 1],
          registers: [registry],
          enableExemplars: true,
        }),
    );
    counter.inc();
    histogram.observe({ labels: {}, value: 0.05, exemplarLabels: { trace_id: "a".repeat(32) } });
    histogram.observe({ labels: {}, value: 0.5, exemplarLabels: {} });

    const [open, plain, again] = await Promise.all([
      exposer.scrape("application/openmetrics-text"),
      exposer.scrape("text/plain"),
      exposer.scrape(undefined),
    ]);
    expect(open.contentType).toMatch(/^application\/openmetrics-text; version=1\.0\.0/);
    expect(open.body).toMatch(/^demo_seconds_bucket\{le="0\.1"\} 1 # \{trace_id="a{32}"\} 0\.05 \d/m);
    expect(open.body).toMatch(/^demo_seconds_bucket\{le="1"\} 2$/m);
    expect(open.body).toMatch(/^demo_requests_total 1$/m);
    expect(open.body.endsWith("# EOF\n")).toBe(true);
    for (const text of [plain, again]) {
      expect(text.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(text.body).not.toContain("trace_id");
      expect(text.body).toMatch(/^# TYPE demo_requests_total counter$/m);
      expect(text.body).toMatch(/^demo_requests_total 1$/m);
    }
    expect(registry.contentType).toMatch(/^text\/plain/);
  });
});
