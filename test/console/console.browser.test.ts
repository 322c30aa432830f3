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

  const signIn = async (page: Page, key: string, home = "/functions") => {
    await page.goto(`${base}/signin`);
    await page.getByLabel("API key").fill(key);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${base}${home}`);
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
    // Back in the editor, Ctrl/Cmd-Enter runs the Test.
    await page.getByRole("textbox", { name: "Source of index.ts" }).focus();
    await page.keyboard.press("ControlOrMeta+Enter");
    await page.locator('[data-testid="draft-result"], .error').first().waitFor();
    expect(await page.locator(".error").allTextContents()).toEqual([]);
    expect(await page.getByTestId("draft-body").textContent()).toBe("edited kumo");
    expect(await page.getByTestId("draft-status").textContent()).toBe("200");
    expect(await page.getByTestId("draft-result").getByTestId("logs").textContent()).toContain(
      "draft says hi to kumo",
    );
    await shot(page, "code-test");
    // No keyboard trap: Tab indents in the editor until Ctrl-M switches it to moving focus.
    await page.getByRole("textbox", { name: "Source of index.ts" }).focus();
    await page.keyboard.press("Control+M");
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement?.closest('.monaco-editor') === null")).toBe(true);
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
    await expect
      .poll(() => page.getByTestId("tail-logs").textContent())
      .toContain("draft says hi to browser");
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

  it("console - live log tail, traffic and rollouts, deployments, triggers, settings, keys, alerts, list figures", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    watch(page);
    await signIn(page, tenant.key);

    // The list: server search, and the 24-h figures (the invocation of the first test) with a sparkline.
    await page.getByRole("searchbox", { name: "Search functions" }).fill("hel");
    await page.waitForURL(`${base}/functions?q=hel`);
    await expect.poll(() => page.getByTestId("invocations-hello").textContent()).toBe("1");
    expect(await page.getByTestId("invocations-hello").locator("svg.spark").count()).toBe(1);
    await shot(page, "functions");
    await page.getByRole("searchbox", { name: "Search functions" }).fill("zzz");
    await page.getByText('No function matches "zzz".').waitFor();

    // Traffic: live (on v1 after the rollback) is edited to send everything to v2.
    await page.goto(`${base}/functions/hello/versions`);
    await page.getByRole("button", { name: "Edit weights of live" }).click();
    await page.getByRole("form", { name: "Weights of live" }).getByRole("combobox").first().selectOption("2");
    await page.getByRole("button", { name: "Save weights" }).click();
    await expect.poll(() => page.getByTestId("live-version").textContent()).toBe("live v2");
    // The function header and the aliases table reload separately: wait for both.
    await expect.poll(() => page.getByTestId("aliases").textContent()).toContain("v2 100%");

    // A gradual rollout back to v1 shows its progress, and cancelling it leaves live on v2.
    await page.getByLabel("Roll out").selectOption("1");
    await page.getByLabel("Steps (%)").fill("25, 100");
    await page.getByLabel("every").fill("1h");
    await page.getByRole("button", { name: "Start rollout" }).click();
    await expect.poll(() => page.getByTestId("rollout").textContent()).toContain("step 1 of 2 (25% on v1)");
    await shot(page, "rollout");
    await page.getByRole("button", { name: "Cancel rollout" }).click();
    await expect.poll(() => page.getByTestId("rollouts").textContent()).toContain("cancelled");
    expect((await t.call("GET", "/v1/functions/hello", { key: tenant.key })).json.liveVersion).toBe(2);

    // Logs: a live tail filtered by text shows a line written after it opened, and not the older ones.
    await page.goto(`${base}/functions/hello/logs?q=tail`);
    await expect.poll(() => page.getByTestId("tail-state").textContent()).toBe("● live");
    await fetch(`${base}/fn/${tenant.name}/hello/?name=tail`);
    await expect.poll(() => page.getByTestId("tail-logs").textContent()).toContain("draft says hi to tail");
    expect(await page.getByTestId("tail-logs").textContent()).not.toContain("to browser");
    await page.getByRole("checkbox", { name: "error" }).check();
    await page.waitForURL(`${base}/functions/hello/logs?q=tail&level=error`);
    await page.getByText("No lines match.").waitFor();
    await shot(page, "logs");

    // Deployments with the build log.
    await page.getByRole("link", { name: "Deployments" }).click();
    const deployments = page.getByTestId("deployments").locator("tbody tr");
    await expect.poll(() => deployments.count()).toBe(2);
    await deployments.first().getByRole("link").click();
    await page.getByTestId("build-log").waitFor();
    expect(await page.getByTestId("deployment-detail").textContent()).toContain("succeeded");
    await shot(page, "deployment");

    // Triggers: a cron trigger in words, with its next runs from the API.
    const created = await t.call("POST", "/v1/functions/hello/triggers", {
      key: tenant.key,
      body: { schedule: "30 2 * * 1-5", timezone: "Europe/Berlin", paused: true },
    });
    expect(created.status, created.body).toBe(201);
    await page.getByRole("link", { name: "Triggers" }).click();
    await expect
      .poll(() => page.getByTestId("triggers").textContent())
      .toContain("At 02:30, Monday to Friday");
    await page.getByTestId("triggers").getByRole("link", { name: "cron" }).click();
    await expect.poll(() => page.getByTestId("next-runs").locator("li").count()).toBe(5);
    await page.getByRole("button", { name: "Resume" }).click();
    await page.getByRole("button", { name: "Pause" }).waitFor();
    await shot(page, "trigger");

    // Settings: an env var set here reaches the next invocation; limits from the deployed kumo.json.
    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByLabel("Key").fill("GREETING");
    await page.getByLabel("Value").fill("hallo");
    await page.getByRole("button", { name: "Set variable" }).click();
    await expect.poll(() => page.getByTestId("env").textContent()).toContain("hallo");
    expect(await page.getByTestId("limits").textContent()).toContain("128 MB");

    // Limits and access are saved as a new version (v3) whose kumo.json carries them.
    await page.getByText("Edit limits, scaling and access").click();
    await page.getByLabel("Memory (MB)").fill("256");
    await page.getByLabel("Rate limit (JSON)").fill('{"requests": 1000, "per": "1s"}');
    await page.getByRole("button", { name: "Save as new version" }).click();
    await expect
      .poll(() => page.getByTestId("settings-deployment").textContent())
      .toContain("succeeded (v3)");
    await expect.poll(() => page.getByTestId("live-version").textContent()).toBe("live v3");
    await expect.poll(() => page.getByTestId("limits").textContent()).toContain("256 MB");
    const v3 = await t.call("GET", "/v1/functions/hello/versions/3", { key: tenant.key });
    expect(v3.json.config).toMatchObject({ memoryMb: 256, rateLimit: { requests: 1000, per: "1s" } });
    await shot(page, "settings");

    // A tenant route to the function is added here, and removed.
    await page.getByLabel("Path pattern").fill("/hello-route");
    await page.getByRole("button", { name: "Add route" }).click();
    await expect.poll(() => page.getByTestId("routes").textContent()).toContain("/hello-route");
    await page.getByRole("button", { name: "Remove route ANY /hello-route" }).click();
    await page.getByText("No custom routes point at this function.").waitFor();

    // A custom domain is claimed here; the page shows the TXT record to publish (verifying needs DNS).
    await page.getByLabel("Hostname").fill("shop.example.com");
    await page.getByRole("button", { name: "Claim domain" }).click();
    await expect.poll(() => page.getByTestId("domains").textContent()).toContain("pending");
    expect(await page.getByTestId("domains").textContent()).toContain("shop.example.com");
    expect(await page.getByRole("button", { name: "Verify shop.example.com" }).count()).toBe(1);

    // The Test payload is kept per function in this browser.
    await page.getByRole("link", { name: "Code" }).click();
    await page.getByLabel("Path and query").fill("/?name=saved");
    await page.reload();
    await expect.poll(() => page.getByLabel("Path and query").inputValue()).toBe("/?name=saved");

    // Keys: issue one (shown once), then revoke it after a confirmation.
    await page.getByRole("link", { name: "Keys" }).click();
    await page.getByRole("radio", { name: /viewer/ }).check();
    await page.getByLabel("Name (optional)").fill("ci-reader");
    await page.getByRole("button", { name: "Issue key" }).click();
    const issued = (await page.getByTestId("issued-key").locator("code").textContent()) ?? "";
    expect((await t.call("GET", "/v1/whoami", { key: issued })).json.role).toBe("viewer");
    await shot(page, "keys");
    await page.getByRole("button", { name: "Done" }).click();
    await page.getByRole("button", { name: "Revoke ci-reader" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Revoke" }).click();
    await expect.poll(() => page.getByTestId("keys").textContent()).toContain("revoked");
    expect((await t.call("GET", "/v1/whoami", { key: issued })).status).toBe(401);

    // Alerts: a rule is created, listed with its state, and opens with its history.
    await page.getByRole("link", { name: "Alerts" }).click();
    await page.getByLabel("Name").fill("hello-errors");
    await page.getByLabel("Function (empty: all functions)").fill("hello");
    await page.getByLabel("Fires above (%)").fill("5");
    await page.getByLabel("Webhook URL").fill("https://hooks.example.com/kumo");
    await page.getByRole("button", { name: "Add rule" }).click();
    await expect.poll(() => page.getByTestId("alerts").textContent()).toContain("Error rate > 5.0% over 5m");
    await shot(page, "alerts");
    await page.getByRole("link", { name: "hello-errors" }).click();
    await page.getByTestId("alert").waitFor();
    expect(await page.getByTestId("alert").textContent()).toContain("https://hooks.example.com/…");

    // Keyboard: the first Tab reaches "Skip to content".
    await page.goto(`${base}/functions`);
    // The app renders after its script loaded: Tab before that would land on nothing.
    await page.locator("a.skip").waitFor({ state: "attached" });
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement?.textContent")).toBe("Skip to content");
    expect(problems).toEqual([]);
  });

  it("console - phone width read-only views; the platform admin manages tenants", async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    const page = await phone.newPage();
    watch(page);
    await signIn(page, viewerKey);
    for (const [path, name] of [
      ["/functions", "phone-functions"],
      ["/functions/hello", "phone-overview"],
      ["/functions/hello/invocations", "phone-invocations"],
      ["/functions/hello/versions", "phone-versions"],
    ] as const) {
      await page.goto(`${base}${path}`);
      await page.locator("main h1").first().waitFor();
      await page.waitForLoadState("networkidle");
      // Wide tables scroll inside themselves; the page never scrolls sideways.
      expect(await page.evaluate("document.documentElement.scrollWidth"), path).toBeLessThanOrEqual(390);
      await shot(page, name);
    }
    // A viewer sees no traffic controls.
    expect(await page.getByRole("button", { name: /Edit weights/ }).count()).toBe(0);
    expect(await page.getByRole("button", { name: "Start rollout" }).count()).toBe(0);

    expect(problems).toEqual([]);
    const admin = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    watch(admin);
    await signIn(admin, t.adminKey, "/tenants");
    await expect.poll(() => admin.getByTestId("tenants").textContent()).toContain(tenant.name);
    expect(problems).toEqual([]);
    const made = `console-${Date.now().toString(36)}`;
    await admin.getByLabel("Name").fill(made);
    await admin.getByRole("button", { name: "Create tenant" }).click();
    const key = (await admin.getByTestId("tenant-created").locator("code").textContent()) ?? "";
    expect((await t.call("GET", "/v1/whoami", { key })).json.tenant.name).toBe(made);
    await shot(admin, "tenants");
    await admin.getByRole("link", { name: `Keys of ${tenant.name}` }).click();
    await expect.poll(() => admin.getByTestId("keys").textContent()).toContain("viewer");
    expect(problems).toEqual([]);
  });
});
