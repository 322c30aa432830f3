import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Rollout } from "../../packages/cli/src/api-types.ts";
import { parseErrorRate, parseInterval, parseSteps } from "../../packages/cli/src/commands/traffic.ts";
import { CliError } from "../../packages/cli/src/errors.ts";
import { runKumo } from "./support/run-kumo.ts";
import { envelope, StubServer, sendJson } from "./support/stub-server.ts";

let stub: StubServer;
let env: Record<string, string>;
beforeAll(async () => {
  stub = await StubServer.start();
  env = { KUMO_URL: stub.url, KUMO_API_KEY: "test-key" };
});
afterAll(async () => {
  await stub.stop();
});
beforeEach(() => stub.reset());

const bodyOf = (index = -1) => JSON.parse(stub.requests.at(index)?.body.toString() ?? "");

function rollout(overrides: Partial<Rollout> = {}): Rollout {
  return {
    id: "ro_1",
    alias: "live",
    from: 3,
    to: 4,
    steps: [10, 50, 100],
    stepIndex: 0,
    weight: 10,
    intervalMs: 300_000,
    maxErrorRate: 0.05,
    minRequests: 20,
    status: "running",
    stepStartedAt: "2025-01-01T11:58:00Z",
    nextStepAt: "2025-01-01T12:03:00Z",
    lastErrorRate: null,
    lastRequests: null,
    reason: null,
    createdAt: "2025-01-01T11:58:00Z",
    createdBy: "key_1",
    updatedAt: "2025-01-01T11:58:00Z",
    finishedAt: null,
    ...overrides,
  };
}

/** Answers GET of one rollout with each of `states` in turn, then the last one forever. */
function rolloutSequence(states: Rollout[]): void {
  let calls = 0;
  stub.on("GET /v1/functions/hello/rollouts/ro_1", (_req, res) => {
    sendJson(res, 200, states[Math.min(calls++, states.length - 1)]);
  });
}

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(2);
    return (error as CliError).message;
  }
  throw new Error("expected a usage error");
}

describe("cli traffic - argument parsing", () => {
  it("reads steps as increasing percentages ending with 100", () => {
    expect(parseSteps("10,50,100")).toEqual([10, 50, 100]);
    expect(parseSteps("25%, 100%")).toEqual([25, 100]);
    expect(parseSteps("100")).toEqual([100]);
    expect(usageMessage(() => parseSteps("50,10,100"))).toContain(
      "each step must be larger than the one before",
    );
    expect(usageMessage(() => parseSteps("10,10,100"))).toContain("larger than the one before");
    expect(usageMessage(() => parseSteps("10,50"))).toContain("the last step must be 100");
    expect(usageMessage(() => parseSteps("0,100"))).toContain('from 1 to 100, got "0"');
    expect(usageMessage(() => parseSteps("10,,100"))).toContain('got ""');
    expect(usageMessage(() => parseSteps("10,150"))).toContain('got "150"');
    expect(usageMessage(() => parseSteps("1.5,100"))).toContain('got "1.5"');
  });

  it("reads the interval as a duration and the error rate as a percentage or a fraction", () => {
    expect(parseInterval("5m")).toBe(300_000);
    expect(parseInterval("250ms")).toBe(250);
    expect(parseInterval("1h")).toBe(3_600_000);
    expect(usageMessage(() => parseInterval("soon"))).toContain("expected a duration such as 30s, 5m or 1h");
    expect(usageMessage(() => parseInterval("10ms"))).toContain("between 50ms and 7d");
    expect(usageMessage(() => parseInterval("60"))).toContain("give a unit, such as 60s or 60m");
    expect(usageMessage(() => parseInterval("8d"))).toContain("between 50ms and 7d");
    expect(parseErrorRate("5%")).toBe(0.05);
    expect(parseErrorRate("0.05")).toBe(0.05);
    expect(parseErrorRate("0")).toBe(0);
    expect(parseErrorRate("12.5%")).toBe(0.125);
    expect(usageMessage(() => parseErrorRate("5"))).toContain("a percentage (5%) or a fraction (0.05)");
    expect(usageMessage(() => parseErrorRate("150%"))).toContain("up to 100%");
    expect(usageMessage(() => parseErrorRate("-1%"))).toContain("--max-error-rate");
  });

  it("rejects bad shift arguments with exit 2 before contacting the server", async () => {
    const shift = ["traffic", "shift", "hello"];
    const cases: [string[], string][] = [
      [[...shift, "--steps", "10,100", "--interval", "5m"], "missing --to"],
      [[...shift, "--to", "v4", "--interval", "5m"], "missing --steps"],
      [[...shift, "--to", "v4", "--steps", "10,100"], "missing --interval"],
      [[...shift, "--to", "latest", "--steps", "10,100", "--interval", "5m"], "--to must be an integer"],
      [[...shift, "--to", "4", "--steps", "50,10,100", "--interval", "5m"], "larger than the one before"],
      [[...shift, "--to", "4", "--steps", "10,50", "--interval", "5m"], "the last step must be 100"],
      [[...shift, "--to", "4", "--steps", "10,100", "--interval", "later"], 'invalid --interval "later"'],
      [
        [...shift, "--to", "4", "--steps", "100", "--interval", "1m", "--max-error-rate", "5"],
        "--max-error-rate",
      ],
      [
        [...shift, "--to", "4", "--steps", "100", "--interval", "1m", "--alias", "Live"],
        'invalid alias "Live"',
      ],
      [
        ["traffic", "shift", "hello@beta", "--to", "4", "--steps", "100", "--interval", "1m"],
        "expected a function name",
      ],
      [["traffic", "cancel", "hello"], "missing rollout id"],
      [["traffic", "move", "hello"], 'unknown subcommand "traffic move"'],
    ];
    for (const [argv, message] of cases) {
      const result = await runKumo(argv, { env });
      expect(result.code, argv.join(" ")).toBe(2);
      expect(result.stderr, argv.join(" ")).toContain(message);
      expect(result.stderr).toContain("run `kumo traffic --help` for usage");
    }
    expect(stub.requests).toHaveLength(0);
  });
});

describe("cli traffic - against a stub", () => {
  it("starts a rollout: sends the compiled options, prints the id, the first step and how to watch it", async () => {
    stub.json("POST /v1/functions/hello/rollouts", 201, rollout());
    const result = await runKumo(
      ["traffic", "shift", "hello", "--to", "v4", "--steps", "10,50,100", "--interval", "5m"],
      { env },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(bodyOf()).toEqual({ to: 4, steps: [10, 50, 100], interval: 300_000, alias: "live" });
    expect(result.stdout.split("\n")).toEqual([
      "Rollout ro_1 started: hello@live sends 10% of requests to v4 (v3 keeps 90%).",
      "Steps 10% → 50% → 100%, every 5m, while v4 fails at most 5% of at least 20 requests per step.",
      "Watch it: kumo traffic status hello ro_1   (stop it: kumo traffic cancel hello ro_1)",
      "",
    ]);
    expect(result.stderr).toBe("");

    const json = await runKumo(
      [
        ...["traffic", "shift", "hello", "--to", "4", "--steps", "50,100", "--interval", "30s", "--json"],
        ...["--alias", "canary", "--max-error-rate", "2.5%", "--min-requests", "0"],
      ],
      { env },
    );
    expect(json.code, json.stderr).toBe(0);
    expect(bodyOf()).toEqual({
      to: 4,
      steps: [50, 100],
      interval: 30_000,
      alias: "canary",
      maxErrorRate: 0.025,
      minRequests: 0,
    });
    expect(JSON.parse(json.stdout)).toEqual(rollout());
  });

  it("--wait follows the steps on stderr and exits 0 once completed", async () => {
    const fast = { intervalMs: 100 };
    stub.json("POST /v1/functions/hello/rollouts", 201, rollout(fast));
    rolloutSequence([
      rollout(fast),
      rollout({ ...fast, stepIndex: 1, weight: 50, lastErrorRate: 0, lastRequests: 25 }),
      rollout({
        ...fast,
        stepIndex: 2,
        weight: 100,
        status: "completed",
        nextStepAt: null,
        lastErrorRate: 0.01,
      }),
    ]);
    const result = await runKumo(
      ["traffic", "shift", "hello", "--to", "4", "--steps", "10,50,100", "--interval", "100ms", "--wait"],
      { env },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe("Rollout ro_1 completed: hello@live serves v4.\n");
    const stderr = result.stderr.split("\n");
    expect(stderr[0]).toBe("Rollout ro_1 started: hello@live sends 10% of requests to v4 (v3 keeps 90%).");
    expect(stderr).toContain("hello@live: v4 at 10% (step 1 of 3)...");
    expect(stderr).toContain("hello@live: v4 at 50% (step 2 of 3)...");
    // One progress line per step, however many polls it took.
    expect(stderr.filter((l) => l.includes("at 10%"))).toHaveLength(1);
  });

  it("--wait exits 1 when the rollout is rolled back, with the measured error rate", async () => {
    const fast = { intervalMs: 100, steps: [50, 100], weight: 50 };
    stub.json("POST /v1/functions/hello/rollouts", 201, rollout(fast));
    const rolledBack = rollout({
      ...fast,
      status: "rolled_back",
      nextStepAt: null,
      lastErrorRate: 0.3,
      lastRequests: 40,
      reason: "error rate 30.0% of 40 requests to version 4 exceeded 5.0%",
      finishedAt: "2025-01-01T12:00:00Z",
    });
    rolloutSequence([rolledBack]);
    const argv = [
      "traffic",
      "shift",
      "hello",
      "--to",
      "4",
      "--steps",
      "50,100",
      "--interval",
      "100ms",
      "--wait",
    ];

    const human = await runKumo(argv, { env });
    expect(human.code).toBe(1);
    expect(human.stdout).toBe("");
    expect(human.stderr).toContain(
      "error FN_005: rollout ro_1 rolled back: v4 failed 30% of 40 requests; hello@live serves v3 again\n",
    );

    const json = await runKumo([...argv, "--json"], { env });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual(rolledBack);
    expect(JSON.parse(json.stderr.trim().split("\n").at(-1) ?? "")).toMatchObject({
      error: { code: "FN_005", details: { rollout: "ro_1", status: "rolled_back", errorRate: 0.3 } },
    });
  });

  it("--wait exits 1 when someone cancels the rollout meanwhile", async () => {
    stub.json("POST /v1/functions/hello/rollouts", 201, rollout({ intervalMs: 100 }));
    rolloutSequence([
      rollout({ status: "cancelled", reason: "cancelled through the API", nextStepAt: null }),
    ]);
    const result = await runKumo(
      ["traffic", "shift", "hello", "--to", "4", "--steps", "10,50,100", "--interval", "100ms", "--wait"],
      { env },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      "error FN_005: rollout ro_1 was cancelled (cancelled through the API); hello@live serves v3 again",
    );
  });

  it("lists rollouts, shows one, cancels one, and maps an unknown id to exit 4", async () => {
    const done = rollout({
      id: "ro_0",
      from: 2,
      to: 3,
      stepIndex: 2,
      weight: 100,
      status: "completed",
      nextStepAt: null,
      lastErrorRate: 0.012,
      lastRequests: 250,
      createdAt: "2024-12-31T12:00:00Z",
      finishedAt: "2024-12-31T12:20:00Z",
    });
    stub.json("GET /v1/functions/hello/rollouts", 200, { items: [rollout(), done], nextCursor: null });
    const list = await runKumo(["traffic", "status", "hello"], { env });
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout.split("\n")).toEqual([
      "ID    ALIAS  VERSIONS  WEIGHT  STATUS     ERROR RATE            STARTED",
      "ro_1  live   v3 → v4   10%     running    -                     2m ago",
      "ro_0  live   v2 → v3   100%    completed  1.2% of 250 requests  1d ago",
      "",
    ]);

    stub.json("GET /v1/functions/hello/rollouts/ro_1", 200, rollout({ lastRequests: 7 }));
    const one = await runKumo(["traffic", "status", "hello", "ro_1"], { env });
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toContain("Rollout:    ro_1\n");
    expect(one.stdout).toContain("Weight:     10% (step 1 of 3: 10 → 50 → 100)\n");
    expect(one.stdout).toContain("Next step:  waiting for traffic: 7 of 20 requests to v4\n");
    stub.json("GET /v1/functions/hello/rollouts/ro_1", 200, rollout({ lastRequests: 30, lastErrorRate: 0 }));
    expect((await runKumo(["traffic", "status", "hello", "ro_1"], { env })).stdout).toContain(
      "Next step:  in 3m\n",
    );

    stub.json("POST /v1/functions/hello/rollouts/ro_1/cancel", 200, rollout({ status: "cancelled" }));
    const cancel = await runKumo(["traffic", "cancel", "hello", "ro_1"], { env });
    expect(cancel.stdout).toBe("Cancelled rollout ro_1: hello@live serves v3 again.\n");
    expect(stub.requests.at(-1)?.method).toBe("POST");

    stub.json(
      "GET /v1/functions/hello/rollouts/ro_9",
      404,
      envelope("FN_001", 'rollout "ro_9" of function "hello" not found'),
    );
    const missing = await runKumo(["traffic", "status", "hello", "ro_9"], { env });
    expect(missing.code).toBe(4);
    expect(missing.stderr).toBe('error FN_001: rollout "ro_9" of function "hello" not found\n');
  });

  it("passes a refused rollout through with exit 1 (a second rollout on the alias)", async () => {
    stub.json(
      "POST /v1/functions/hello/rollouts",
      409,
      envelope("FN_006", 'rollout ro_1 is already running on "hello@live"; cancel it first', {
        rollout: "ro_1",
      }),
    );
    const result = await runKumo(
      ["traffic", "shift", "hello", "--to", "4", "--steps", "100", "--interval", "1m"],
      { env },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("error FN_006: rollout ro_1 is already running");
  });
});

const route = {
  id: "rt_1",
  method: "GET",
  path: "/users/:id/*",
  host: null,
  function: "users@live",
  createdAt: "2025-01-01T11:00:00Z",
  createdBy: "key_1",
};

describe("cli routes - against a stub", () => {
  it("lists routes as a table (method, host, path, function, id)", async () => {
    stub.json("GET /v1/routes", 200, {
      items: [
        route,
        { ...route, id: "rt_2", method: "ANY", path: "/*", host: "api.example.com", function: "site" },
      ],
      nextCursor: "c2",
    });
    const result = await runKumo(["routes"], { env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split("\n")).toEqual([
      "METHOD  HOST             PATH          FUNCTION    ID",
      "GET     -                /users/:id/*  users@live  rt_1",
      "ANY     api.example.com  /*            site        rt_2",
      "",
    ]);
    expect(result.stderr).toBe("more: kumo routes list --cursor c2\n");
    const json = await runKumo(["routes", "list", "--json", "--limit", "2"], { env });
    expect(JSON.parse(json.stdout).items).toHaveLength(2);
    expect(stub.requests.at(-1)?.query.get("limit")).toBe("2");
  });

  it("adds a route with the method upper-cased and the target normalized, and deletes one", async () => {
    stub.on("POST /v1/routes", (req, res) =>
      sendJson(res, 201, { ...route, ...JSON.parse(req.body.toString()) }),
    );
    const add = await runKumo(["routes", "add", "get", "/users/:id/*", "users@live"], { env });
    expect(add.code, add.stderr).toBe(0);
    expect(bodyOf()).toEqual({ method: "GET", path: "/users/:id/*", function: "users@live" });
    expect(add.stdout).toBe("Added route rt_1: GET /users/:id/* → users@live\n");

    const onHost = await runKumo(
      ["routes", "add", "POST", "/hooks", "hooks@3", "--host", "api.example.com"],
      { env },
    );
    expect(onHost.code, onHost.stderr).toBe(0);
    expect(bodyOf()).toEqual({
      method: "POST",
      path: "/hooks",
      function: "hooks@v3",
      host: "api.example.com",
    });
    expect(onHost.stdout).toBe("Added route rt_1: POST /hooks on api.example.com → hooks@v3\n");

    stub.on("DELETE /v1/routes/rt_1", (_req, res) => sendJson(res, 204, null));
    const del = await runKumo(["routes", "delete", "rt_1"], { env });
    expect(del.code, del.stderr).toBe(0);
    expect(del.stdout).toBe("Deleted route rt_1.\n");
    expect(JSON.parse((await runKumo(["routes", "rm", "rt_1", "--json"], { env })).stdout)).toEqual({
      deleted: "rt_1",
    });

    stub.json("DELETE /v1/routes/rt_9", 404, envelope("FN_001", 'route "rt_9" not found'));
    expect((await runKumo(["routes", "delete", "rt_9"], { env })).code).toBe(4);
  });

  it("rejects bad routes locally with exit 2, and passes the server's conflicts through with exit 1", async () => {
    const cases: [string[], string][] = [
      [["routes", "add", "FETCH", "/x", "fn"], 'invalid method "FETCH"'],
      [["routes", "add", "GET", "users", "fn"], 'it must start with "/"'],
      [["routes", "add", "GET", "https://api.example.com/x", "fn"], "give the path only"],
      [["routes", "add", "GET", "/x", "Fn"], 'invalid function name "Fn"'],
      [
        ["routes", "add", "GET", "/x", "fn", "--host", "https://api.example.com"],
        'invalid --host "https://api.example.com"',
      ],
      [["routes", "add", "GET", "/x"], "missing function"],
      [["routes", "delete"], "missing route id"],
    ];
    for (const [argv, message] of cases) {
      const result = await runKumo(argv, { env });
      expect(result.code, argv.join(" ")).toBe(2);
      expect(result.stderr, argv.join(" ")).toContain(message);
    }
    expect(stub.requests).toHaveLength(0);

    stub.json(
      "POST /v1/routes",
      409,
      envelope("FN_006", "the route conflicts with route rt_1 (GET /users/:id/*)"),
    );
    const conflict = await runKumo(["routes", "add", "GET", "/users/:uid/*", "users"], { env });
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toBe("error FN_006: the route conflicts with route rt_1 (GET /users/:id/*)\n");
  });
});

const domain = {
  hostname: "api.example.com",
  status: "pending",
  verification: { type: "TXT", name: "_kumo-challenge.api.example.com", value: "kumo-verify=abc123" },
  createdAt: "2025-01-01T11:00:00Z",
  verifiedAt: null,
  verifiedBy: null,
};

describe("cli domains - against a stub", () => {
  it("add prints the TXT record to create and the next command", async () => {
    stub.json("POST /v1/domains", 201, domain);
    const result = await runKumo(["domains", "add", "api.example.com"], { env });
    expect(result.code, result.stderr).toBe(0);
    expect(bodyOf()).toEqual({ hostname: "api.example.com" });
    expect(result.stdout.split("\n")).toEqual([
      "Claimed api.example.com. To prove you control it, create this DNS record:",
      "",
      "  Type:  TXT",
      "  Name:  _kumo-challenge.api.example.com",
      "  Value: kumo-verify=abc123",
      "",
      "Then, once it has propagated: kumo domains verify api.example.com",
      "",
    ]);
    const json = await runKumo(["domains", "add", "api.example.com", "--json"], { env });
    expect(JSON.parse(json.stdout)).toEqual(domain);

    const url = await runKumo(["domains", "add", "https://api.example.com/"], { env });
    expect(url.code).toBe(2);
    expect(url.stderr).toContain("without scheme, port or path (e.g. api.example.com)");
  });

  it("verify reports a verified domain, or the record that is missing with exit 1", async () => {
    const verified = { ...domain, status: "verified", verifiedAt: "2025-01-01T11:59:00Z", verifiedBy: "dns" };
    stub.json("POST /v1/domains/api.example.com/verify", 200, verified);
    const ok = await runKumo(["domains", "verify", "api.example.com"], { env });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe(
      "api.example.com is verified (by dns).\nRoute it: kumo routes add GET '/*' <fn> --host api.example.com\n",
    );

    const message =
      'no TXT record _kumo-challenge.api.example.com with the value "kumo-verify=abc123" was found (found: "v=spf1 -all"); add it at your DNS provider and retry once it has propagated';
    const details = { verification: domain.verification, found: ["v=spf1 -all"] };
    stub.json("POST /v1/domains/api.example.com/verify", 400, envelope("FN_006", message, details));
    const missing = await runKumo(["domains", "verify", "api.example.com"], { env });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe("");
    expect(missing.stderr).toBe(`error FN_006: ${message}\n`);
    const json = await runKumo(["domains", "verify", "api.example.com", "--json"], { env });
    expect(JSON.parse(json.stderr)).toEqual({ error: { code: "FN_006", message, details } });

    stub.json(
      "POST /v1/domains/nope.example.com/verify",
      404,
      envelope("FN_001", 'domain "nope.example.com" not found'),
    );
    expect((await runKumo(["domains", "verify", "nope.example.com"], { env })).code).toBe(4);
  });

  it("lists domains with a reminder for pending ones, and deletes one", async () => {
    const verified = {
      ...domain,
      hostname: "www.example.com",
      status: "verified",
      verifiedAt: "2025-01-01T11:30:00Z",
      verifiedBy: "platform-admin",
    };
    stub.json("GET /v1/domains", 200, { items: [domain, verified], nextCursor: null });
    const list = await runKumo(["domains"], { env });
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout.split("\n")).toEqual([
      "HOSTNAME         STATUS    CLAIMED  VERIFIED",
      "api.example.com  pending   1h ago   -",
      "www.example.com  verified  1h ago   30m ago by platform-admin",
      "",
    ]);
    expect(list.stderr).toBe(
      'api.example.com: publish TXT _kumo-challenge.api.example.com = "kumo-verify=abc123", then run kumo domains verify api.example.com\n',
    );

    stub.on("DELETE /v1/domains/api.example.com", (_req, res) => sendJson(res, 204, null));
    const del = await runKumo(["domains", "delete", "api.example.com"], { env });
    expect(del.code, del.stderr).toBe(0);
    expect(del.stdout).toBe("Released api.example.com; its routes are deleted too.\n");
    expect(stub.requests.at(-1)?.method).toBe("DELETE");
  });

  it("lists the new commands in kumo --help", async () => {
    const help = await runKumo(["--help"]);
    for (const name of ["traffic", "routes", "domains"])
      expect(help.stdout).toMatch(new RegExp(`^  ${name} `, "m"));
    expect((await runKumo(["traffic", "--help"])).stdout).toContain("--max-error-rate R");
  });
});
