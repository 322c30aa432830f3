// Node runs TypeScript by erasing its types, and keeps every import as written: an
// `import { Config } from "./types.ts"` of an interface (no `import type`) then fails to link
// ("does not provide an export named 'Config'"), where tsc, esbuild, Bun and Deno drop it. A module
// hook does here what they do: after Node's own type stripping, an imported name that no code
// uses any more (it was only in types) leaves its import; an import left with no names stays as a
// side-effect import. Only the function's .ts/.mts files are touched (not node_modules).
import { nodeRequire } from "./logs.mjs";

const TS_FILE = /\.m?ts$/;
// import Default, { a, b as c } from "x"   |   import { a } from "x"   (after type stripping)
const IMPORT =
  /\bimport\s+(?:([A-Za-z_$][\w$]*)\s*,\s*)?\{([^}]*)\}\s*from\s*(["'][^"'\n]+["'])\s*;?|\bimport\s+([A-Za-z_$][\w$]*)\s+from\s*(["'][^"'\n]+["'])\s*;?/g;

let registered = false;

/** Registers the hook once (Node 22.15+ has module.registerHooks; older Node runs no TypeScript). */
export function elideTypeOnlyImports() {
  if (registered) return;
  registered = true;
  const mod = nodeRequire("node:module");
  if (typeof mod.registerHooks !== "function" || typeof mod.stripTypeScriptTypes !== "function") return;
  mod.registerHooks({
    load(url, context, nextLoad) {
      const result = nextLoad(url, context);
      if (
        result.format !== "module-typescript" ||
        !url.startsWith("file:") ||
        url.includes("/node_modules/") ||
        !TS_FILE.test(new URL(url).pathname)
      )
        return result;
      const stripped = mod.stripTypeScriptTypes(String(result.source));
      const elided = withoutUnusedImports(stripped);
      return elided === stripped ? result : { ...result, format: "module", source: elided };
    },
  });
}

/**
 * JavaScript (types already erased) without the imported names its code does not use.
 * @param {string} code
 */
export function withoutUnusedImports(code) {
  const rest = code.replace(IMPORT, " ");
  const used = (name) => new RegExp(`(?<![\\w$.])${name.replace(/\$/g, "\\$")}(?![\\w$])`).test(rest);
  return code.replace(IMPORT, (whole, first, named, from, only, onlyFrom) => {
    const text = rewrite(whole, { first, named, from, only, onlyFrom }, used);
    // The lines the import spanned stay, so stack traces keep the file's line numbers.
    return text === whole ? whole : text + "\n".repeat(whole.split("\n").length - 1);
  });
}

/**
 * One import declaration without its unused names (the same text when all are used).
 * @param {string} whole
 * @param {{ first?: string, named?: string, from?: string, only?: string, onlyFrom?: string }} parts
 * @param {(name: string) => boolean} used
 */
function rewrite(whole, { first, named = "", from, only, onlyFrom }, used) {
  if (only !== undefined) return used(only) ? whole : `import ${onlyFrom};`;
  const specs = named
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const kept = specs.filter((spec) => used(spec.split(/\s+as\s+/).pop() ?? spec));
  const keepFirst = first !== undefined && used(first);
  if (kept.length === specs.length && (first === undefined || keepFirst)) return whole;
  const parts = [...(keepFirst ? [first] : []), ...(kept.length > 0 ? [`{ ${kept.join(", ")} }`] : [])];
  return parts.length === 0 ? `import ${from};` : `import ${parts.join(", ")} from ${from};`;
}
