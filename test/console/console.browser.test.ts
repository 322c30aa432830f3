import { mkdirSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../support/test-gateway.ts";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "./chromium.ts";

const SCREENSHOTS = join(import.meta.dirname, "screenshots");

const EDITED = `export default {
  async fetch(request: Request): Promise<Response> {
    const name = new URL(request.url).searchParams.get("name") ?? "nobody";
    console.log("draft says hi to " + name);
    return new Response("edited " + name, { headers: { "content-type": "text/plain" } });
  },
};
`;

/**
 * The console end to end in Debian's Chromium against a real gateway with edge isolates: every
 * page's console errors and failed requests fail the test, except the 404 a step expects.
 */
describe("console in a browser", () => {
  let t: TestGateway;
  let base: string;
  let browser: Browser;
  let tenant: { name: string; key: string };
  let viewerKey: string;
  let otherTenantFunction: string;
  const problems: string[] = [];
  /** Responses a step expects to fail, as "STATUS METHOD path". */
  const expected = new Set<string>();

  const watch = (page: Page) => {
    problems.length = 0;
    page.on("console", (m) => {
      if (m.type() !== "error") return;
      // Chromium logs every 4xx as "Failed to load resource"; those are judged by their response below.
      if (m.text().startsWith("Failed to load resource")) return;
      problems.push(`console error: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("requestfailed", (r) => {
      // ERR_ABORTED: the page navigated away while it loaded (a Monaco worker, say); the server did not fail.
      if (r.failure()?.errorText === "net::ERR_ABORTED") return;
      problems.push(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`);
    });
    page.on("response", (r) => {
      if (r.status() < 400) return;
      const what = `${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`;
      if (!expected.has(what)) problems.push(`response ${what}`);
    });
  };
  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

  const signIn = async (page: Page, key: string) => {
    await page.goto(`${base}/signin`);
    await page.getByLabel("API key").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${base}/functions`);
  };

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    t = await startTestGateway({ edge: true });
    await t.gateway.app.listen({ host: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${(t.gateway.app.server.address() as AddressInfo).port}`;
    tenant = await t.tenant();
    viewerKey = (await t.key(tenant.name, tenant.key, "viewer")).key;
    const other = await t.tenant();
    otherTenantFunction = "bravo";
    expect(
      (await t.call("POST", "/v1/functions", { key: other.key, body: { name: "bravo", runtime: "edge" } }))
        .status,
    ).toBe(201);
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it("console - sign in, template, edit, test a draft, deploy, invoke, history, rollback, secrets", async () => {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      permissions: ["clipboard-read", "clipboard-write"],
    });
    const page = await context.newPage();
    watch(page);

    // Deep link before signing in: the app asks for a key, then lands on the list.
    await signIn(page, tenant.key);
    await expect.poll(() => page.getByTestId("role").textContent()).toBe("admin");
    await shot(page, "functions-empty");

    // A function from a template (Lambda-style API on the edge runtime), created and deployed as v1.
    await page.getByRole("link", { name: "New function" }).click();
    await page.getByText("Lambda-style API").click();
    await page.getByLabel("Name").fill("hello");
    await shot(page, "new-function");
    await page.getByRole("button", { name: "Create and deploy" }).click();
    await page.waitForURL(`${base}/functions/hello/code`);
    await page.locator('[data-testid="editor"][data-ready="true"]').waitFor();
    await expect.poll(() => page.locator(".monaco-editor .view-lines").textContent()).toContain("handler");

    // Edit in Monaco, then Test: the draft runs in an isolate and shows its response and logs.
    await page.locator(".monaco-editor .view-lines").click();
    await page.keyboard.press("ControlOrMeta+A");
    // Pasted, as a user pastes a function: typed text would get Monaco's auto-closed brackets.
    await page.evaluate(`navigator.clipboard.writeText(${JSON.stringify(EDITED)})`);
    await page.keyboard.press("ControlOrMeta+V");
    await page.getByLabel("Path and query").fill("/?name=kumo");
    await page.getByRole("button", { name: "Test" }).click();
    await page.locator('[data-testid="draft-result"], .error').first().waitFor();
    expect(await page.locator(".error").allTextContents()).toEqual([]);
    expect(await page.getByTestId("draft-body").textContent()).toBe("edited kumo");
    expect(await page.getByTestId("draft-status").textContent()).toBe("200");
    expect(await page.getByTestId("draft-result").getByTestId("logs").textContent()).toContain(
      "draft says hi to kumo",
    );
    await shot(page, "code-test");
    // A draft creates no version.
    const before = await t.call("GET", "/v1/functions/hello/versions", { key: tenant.key });
    expect(before.json.items.map((v: { version: number }) => v.version)).toEqual([1]);

    // Deploy: v2 goes live; invoking it answers with the edited code.
    await page.getByRole("button", { name: "Deploy" }).click();
    await expect.poll(() => page.getByTestId("deployment").textContent()).toContain("v2 is live");
    const invoked = await fetch(`${base}/fn/${tenant.name}/hello/?name=browser`);
    expect(await invoked.text()).toBe("edited browser");
    await t.gateway.flushRecords();

    // The invocation shows in the table, and opens with its logs.
    await page.getByRole("link", { name: "Invocations" }).click();
    await page.waitForURL(`${base}/functions/hello/invocations`);
    const row = page.getByTestId("invocations").locator("tbody tr");
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.first().textContent()).toContain("v2");
    await shot(page, "invocations");
    await row.first().getByRole("link").click();
    await expect.poll(() => page.getByTestId("logs").textContent()).toContain("draft says hi to browser");
    await shot(page, "invocation");
    await page.goBack();
    await page.waitForURL(`${base}/functions/hello/invocations`);

    // The overview's charts count it (metrics rollups are written with the records).
    await page.getByRole("link", { name: "Overview" }).click();
    await expect
      .poll(
        async () => {
          await page.getByRole("link", { name: "1h" }).click();
          return page.getByTestId("stat-invocations").textContent();
        },
        { timeout: 10_000 },
      )
      .toBe("1");
    expect(await page.locator(".chart canvas").count()).toBeGreaterThanOrEqual(3);
    await shot(page, "overview");

    // Roll back to v1, after a confirmation.
    await page.getByRole("link", { name: "Versions" }).click();
    await page.getByRole("button", { name: "Roll back to v1" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Roll back" }).click();
    await expect.poll(() => page.getByTestId("live-version").textContent()).toBe("live v1");
    const live = await t.call("GET", "/v1/functions/hello", { key: tenant.key });
    expect(live.json.liveVersion).toBe(1);
    await shot(page, "versions");

    // A secret is set; its value never reaches the page.
    await page.getByRole("link", { name: "Secrets" }).click();
    await page.getByLabel("Name").fill("WEBHOOK_SECRET");
    await page.getByLabel("Value").fill("s3cr3t-value-never-shown");
    await page.getByRole("button", { name: "Save secret" }).click();
    await expect.poll(() => page.getByTestId("secrets").textContent()).toContain("WEBHOOK_SECRET");
    await page.getByLabel("Value").waitFor();
    expect(await page.content()).not.toContain("s3cr3t-value-never-shown");
    await shot(page, "secrets");

    expect(problems).toEqual([]);
  });

  it("console - a viewer cannot deploy; another tenant's function is not found by URL", async () => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    watch(page);
    await signIn(page, viewerKey);
    await expect.poll(() => page.getByTestId("role").textContent()).toBe("viewer");
    expect(await page.getByRole("link", { name: "New function" }).count()).toBe(0);
    await page.goto(`${base}/functions/hello/code`);
    await page.locator('[data-testid="editor"][data-ready="true"]').waitFor();
    expect(await page.getByRole("button", { name: "Deploy" }).count()).toBe(0);
    expect(await page.getByRole("button", { name: "Test" }).count()).toBe(0);
    await shot(page, "viewer-code");

    expected.add(`404 GET /v1/functions/${otherTenantFunction}`);
    await page.goto(`${base}/functions/${otherTenantFunction}`);
    await page.getByTestId("not-found").waitFor();
    await shot(page, "other-tenant");
    expect(problems).toEqual([]);
  });
});
