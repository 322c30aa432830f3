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
      { text: "Runtimes", link: "/runtimes/" },
      { text: "Migrating", link: "/migrating/lambda" },
      { text: "Reference", link: "/reference/error-codes" },
    ],
    sidebar: [
      {
        text: "Guide",
        items: [
          { text: "Getting started", link: "/getting-started" },
          { text: "Concepts", link: "/concepts" },
          { text: "Local development", link: "/local-development" },
          { text: "Deploying", link: "/deploying" },
          { text: "Traffic and rollouts", link: "/traffic" },
          { text: "Async invocations", link: "/async" },
          { text: "Triggers", link: "/triggers" },
          { text: "Workflow steps and SDK", link: "/steps" },
          { text: "Console", link: "/console" },
          { text: "Observability", link: "/observability" },
          { text: "Security", link: "/security" },
          { text: "Invocation auth", link: "/invocation-auth" },
          { text: "Operating Kumo", link: "/operating" },
          { text: "Capacity and sizing", link: "/capacity" },
          { text: "Troubleshooting", link: "/troubleshooting" },
        ],
      },
      {
        text: "Runtimes",
        items: [
          { text: "Overview", link: "/runtimes/" },
          { text: "Edge (V8 isolates)", link: "/runtimes/edge" },
          { text: "Node", link: "/runtimes/node" },
          { text: "Bun", link: "/runtimes/bun" },
          { text: "Deno", link: "/runtimes/deno" },
          { text: "Python", link: "/runtimes/python" },
          { text: "Go", link: "/runtimes/go" },
          { text: "Custom images", link: "/runtimes/container" },
        ],
      },
      {
        text: "Migrating",
        items: [
          { text: "From AWS Lambda", link: "/migrating/lambda" },
          { text: "From Cloudflare Workers", link: "/migrating/workers" },
          { text: "From Deno Deploy / Supabase", link: "/migrating/deno-deploy" },
          { text: "From Netlify / Vercel", link: "/migrating/netlify-vercel" },
          { text: "From OpenFaaS", link: "/migrating/openfaas" },
          { text: "From Knative", link: "/migrating/knative" },
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
