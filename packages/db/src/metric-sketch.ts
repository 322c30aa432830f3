import { DDSketch } from "@datadog/sketches-js";

/**
 * DDSketch with 1 % relative accuracy: a quantile read from it is within 1 % of the true value at
 * that rank, and two sketches merge bin by bin, so percentiles of merged rows (several writers,
 * several minutes) are as good as those of one sketch that saw every value.
 */
export const SKETCH_RELATIVE_ACCURACY = 0.01;

/** The summary a sketch's bytes do not carry (the protobuf form keeps only the bins). */
export interface SketchStats {
  count: number;
  sum: number;
  min: number | null;
  max: number | null;
}

export function newSketch(): DDSketch {
  return new DDSketch({ relativeAccuracy: SKETCH_RELATIVE_ACCURACY });
}

/** The sketch's bins in DDSketch's protobuf form, which every DDSketch implementation reads. */
export function encodeSketch(sketch: DDSketch): Uint8Array {
  return sketch.toProto();
}

export function sketchStats(sketch: DDSketch): SketchStats {
  return {
    count: sketch.count,
    sum: sketch.sum,
    min: sketch.count > 0 ? sketch.min : null,
    max: sketch.count > 0 ? sketch.max : null,
  };
}

/**
 * A stored sketch back, with the sum, min and max its bytes lose (the library's fromProto keeps
 * bins and count only), so averages stay exact and percentiles can be clamped to what was seen.
 */
export function decodeSketch(bytes: Uint8Array, stats: SketchStats): DDSketch {
  const sketch = DDSketch.fromProto(bytes);
  sketch.sum = stats.sum;
  if (stats.min !== null) sketch.min = stats.min;
  if (stats.max !== null) sketch.max = stats.max;
  return sketch;
}

/**
 * The value at quantile `q` (0..1), clamped to the observed min and max (a bin's representative
 * value may lie a little outside them); null for an empty sketch.
 */
export function quantileOf(sketch: DDSketch, q: number): number | null {
  if (sketch.count === 0) return null;
  const value = sketch.getValueAtQuantile(q);
  return Math.min(sketch.max, Math.max(sketch.min, value));
}

/** What a sketch says about its values: exact count, average and max, percentiles within 1 %. */
export interface SketchSummary {
  count: number;
  sum: number;
  avg: number | null;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

export function sketchSummary(sketch: DDSketch): SketchSummary {
  const count = sketch.count;
  return {
    count,
    sum: sketch.sum,
    avg: count > 0 ? sketch.sum / count : null,
    p50: quantileOf(sketch, 0.5),
    p95: quantileOf(sketch, 0.95),
    p99: quantileOf(sketch, 0.99),
    max: count > 0 ? sketch.max : null,
  };
}
