import { defineConfig } from "vite";

/**
 * The console is built once (npm start / npm test provisioning) and served by the gateway from
 * dist/. Preact's JSX through Vite's own transform (no plugin); Monaco and its workers are bundled
 * into lazily loaded chunks, so nothing comes from a CDN and the shell stays small.
 */
export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 8000,
    reportCompressedSize: false,
  },
  worker: { format: "es" },
});
