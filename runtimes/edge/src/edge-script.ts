/**
 * An edge function's stored script: the bundle esbuild made, then its source map as the last line
 * (`//# sourceMappingURL=data:...`). One artifact, so every path that loads a version's code (the
 * gateway, the autoscaler's async invocations, draft runs, `kumo dev`) carries the map along; the
 * isolate host splits it off before the code enters the isolate (host/stack-mapper.ts uses it).
 */
export interface EdgeScript {
  code: string;
  /** The source map's JSON, when the script has one. */
  sourceMap: string | undefined;
}

const MARKER = "\n//# sourceMappingURL=data:application/json;base64,";

/** The stored form of a bundle and its source map. */
export function joinEdgeScript(code: string, sourceMap: string): string {
  return `${code}${MARKER}${Buffer.from(sourceMap).toString("base64")}\n`;
}

/** The bundle and its source map; a script without a map (stored before maps existed) is all code. */
export function splitEdgeScript(script: string): EdgeScript {
  const at = script.lastIndexOf(MARKER);
  if (at < 0) return { code: script, sourceMap: undefined };
  const encoded = script.slice(at + MARKER.length).trimEnd();
  // Only the script's own last line: a data URL inside the code is left alone.
  if (!/^[A-Za-z0-9+/=]*$/.test(encoded)) return { code: script, sourceMap: undefined };
  return { code: script.slice(0, at), sourceMap: Buffer.from(encoded, "base64").toString("utf8") };
}
