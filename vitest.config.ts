import { defineConfig } from "vitest/config";

const BROWSER_TESTS = "test/console/**/*.browser.test.ts";
const CLUSTER_TESTS = "test/cluster/**/*.test.ts";

export default defineConfig({
  test: {
    exclude: ["**/node_modules/**", "bench/**"],
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 120_000,
    reporters: ["default", "./test/support/summary-reporter.ts"],
    globalSetup: ["./test/support/global-teardown.ts"],
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: [
            "apps/*/src/**/*.test.ts",
            "packages/*/src/**/*.test.ts",
            "services/*/src/**/*.test.ts",
            "runtimes/*/src/**/*.test.ts",
            "test/**/*.test.ts",
          ],
          exclude: ["**/node_modules/**", "bench/**", BROWSER_TESTS, CLUSTER_TESTS],
        },
      },
      {
        // The console in a real Chromium: one lean file, its own project so it can be run or skipped alone
        // (`vitest run --project browser`). The console is built first when dist is stale.
        extends: true,
        test: {
          name: "browser",
          include: [BROWSER_TESTS],
          globalSetup: ["./test/console/build-console.ts"],
          testTimeout: 90_000,
        },
      },
      {
        // Three nats-server processes forming a JetStream cluster, nodes killed under load: slow and
        // heavy, so a project of its own (`vitest run --project cluster`).
        extends: true,
        test: {
          name: "cluster",
          include: [CLUSTER_TESTS],
          testTimeout: 150_000,
        },
      },
    ],
  },
});
