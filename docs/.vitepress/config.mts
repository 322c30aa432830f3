import { defineConfig } from "vitepress";
import { slugify } from "./slugify.ts";

/**
 * Kumo's guide: plain Markdown in docs/, built to docs/.vitepress/dist by `npm start`/`npm test`
 * setup (scripts/provision/docs.mjs) and served by the gateway at /guide. Offline search is
 * VitePress's built-in minisearch index: no external service.
 */
export default defineConfig({
  title: "Kumo",
  description: "Self-hosted multi-tenant Functions-as-a-Service",
  base: "/guide/",
  cleanUrls: true,
  lastUpdated: false,
  srcExclude: ["scripts/**", "node_modules/**"],
  markdown: { anchor: { slugify } },
  themeConfig: {
    search: { provider: "local" },
    nav: [
      { text: "Guide", link: "/getting-started" },
      { text: "Reference", link: "/reference/error-codes" },
    ],
    sidebar: [
      {
        text: "Guide",
        items: [
          { text: "Getting started", link: "/getting-started" },
          { text: "Concepts", link: "/concepts" },
          { text: "Triggers", link: "/triggers" },
          { text: "Observability", link: "/observability" },
          { text: "Security", link: "/security" },
          { text: "Operating Kumo", link: "/operating" },
          { text: "Troubleshooting", link: "/troubleshooting" },
        ],
      },
      {
        text: "Walkthroughs",
        items: [{ text: "A cron function with a secret", link: "/cron-with-secret" }],
      },
      {
        text: "Reference",
        items: [
          { text: "Error codes", link: "/reference/error-codes" },
          { text: "Configuration", link: "/reference/configuration" },
        ],
      },
    ],
  },
});
