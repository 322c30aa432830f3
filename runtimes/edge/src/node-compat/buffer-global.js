// Injected into edge bundles built with "compatibility": ["nodejs"] (esbuild's `inject`): a free
// `Buffer` in the code or its packages becomes an import of this, as Workers' nodejs_compat has it
// as a global. One file per global, so a bundle carries only the ones it uses.
export { Buffer } from "node:buffer";
