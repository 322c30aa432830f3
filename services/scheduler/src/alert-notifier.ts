import { createHmac } from "node:crypto";
import { type SecretBox, WebhookClient, type WebhookResult } from "@kumo/core";
import {
  type AlertDelivery,
  type AlertDueTrigger,
  openTenantSecret,
  type PlatformStore,
  type ScheduledTriggers,
} from "@kumo/db";

export interface AlertNotifierOptions {
  platform: PlatformStore;
  /** Opens the tenant secrets that sign alert bodies; without it, a signed alert fails to send. */
  secretBox: SecretBox | undefined;
  allowPrivate: boolean;
  /** Host name to addresses, for tests; the system resolver otherwise. */
  resolve?: (hostname: string) => Promise<string[]>;
  now?: () => number;
  log: (line: string) => void;
}

/** The JSON body of an alert in the "json" format. */
export interface AlertPayload {
  kind: "failure" | "recovery";
  tenant: string;
  function: string;
  trigger: { id: string; type: string };
  invocationId: string | null;
  errorCode: string | null;
  message: string | null;
  /** Consecutive failed runs (0 in a recovery notice). */
  failures: number;
  at: string;
}

/** Alerts due per pass: a storm of failing triggers is worked off over several ticks. */
const BATCH = 50;

/**
 * Failure alerts of triggers: after `alert.after` consecutive failed runs (or firings that could not
 * happen), POSTs the trigger's alert webhook once, and again with a recovery notice when a run
 * succeeds. Driven by trigger state (`alert_status`), so a leader that dies before sending leaves
 * the alert to its successor, and a webhook that stays down gets one failed delivery per change,
 * not one per tick. Deliveries go through the destinations' address policy; the body is signed
 * with HMAC-SHA256 (`kumo-signature: t=<unix seconds>,v1=<hex>` over `<t>.<body>`) when the alert
 * names a tenant secret.
 */
export class AlertNotifier {
  readonly #options: AlertNotifierOptions;
  readonly #scheduled: ScheduledTriggers;
  readonly #client: WebhookClient;
  readonly #now: () => number;

  constructor(options: AlertNotifierOptions) {
    this.#options = options;
    this.#scheduled = options.platform.scheduledTriggers();
    this.#now = options.now ?? Date.now;
    this.#client = new WebhookClient({
      allowPrivate: options.allowPrivate,
      allowPrivateSetting: "KUMO_ALERTS_ALLOW_PRIVATE",
      timeoutMs: 5000,
      retries: 2,
      retryBaseMs: 500,
      userAgent: "kumo-alerts/1",
      ...(options.resolve ? { resolve: options.resolve } : {}),
    });
  }

  /** Sends the alerts that are due; one failing webhook never holds up the others. */
  async pass(): Promise<number> {
    const due = await this.#scheduled.alertsDue(BATCH);
    await Promise.all(
      due.map((t) =>
        this.#send(t).catch((error: unknown) =>
          this.#options.log(`alert of trigger ${t.id} (${t.function_name}): ${String(error)}`),
        ),
      ),
    );
    return due.length;
  }

  stop(): void {
    this.#client.abort();
  }

  async #send(trigger: AlertDueTrigger): Promise<void> {
    const alert = trigger.alert;
    if (!alert) return;
    const kind = trigger.alert_status === "ok" ? "failure" : "recovery";
    const payload = alertPayload(trigger, kind, new Date(this.#now()));
    const body = Buffer.from(JSON.stringify(alert.format === "slack" ? slackBody(payload) : payload));
    let result: WebhookResult;
    try {
      const headers: Record<string, string> = { "kumo-alert": kind };
      if (alert.secret) {
        const store = this.#options.platform.tenant(trigger.tenant_id);
        const key = await openTenantSecret(store, alert.secret, this.#options.secretBox);
        headers["kumo-signature"] = signature(key, body, Math.floor(this.#now() / 1000));
      }
      result = await this.#client.post(alert.url, body, headers);
    } catch (error) {
      result = { delivered: false, refused: false, attempts: 0, error: String(error) };
    }
    const delivery: AlertDelivery = {
      kind,
      at: payload.at,
      invocationId: payload.invocationId,
      delivered: result.delivered,
      ...(result.statusCode !== undefined ? { statusCode: result.statusCode } : {}),
      ...(result.error !== undefined ? { error: result.error } : {}),
    };
    if (!result.delivered)
      this.#options.log(`alert for trigger ${trigger.id} not delivered: ${result.error}`);
    await this.#scheduled.alerted(trigger, kind === "failure" ? "alerting" : "ok", delivery);
  }
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the receiver checks the age and the MAC. */
export function signature(key: string, body: Buffer, unixSeconds: number): string {
  const mac = createHmac("sha256", key).update(`${unixSeconds}.`).update(body).digest("hex");
  return `t=${unixSeconds},v1=${mac}`;
}

export function alertPayload(trigger: AlertDueTrigger, kind: "failure" | "recovery", at: Date): AlertPayload {
  const [, code, message] = /^(FN_\d{3}): ([\s\S]*)$/.exec(trigger.last_error ?? "") ?? [];
  return {
    kind,
    tenant: trigger.tenant_name,
    function: trigger.function_name,
    trigger: { id: trigger.id, type: trigger.kind },
    invocationId: trigger.last_invocation_id,
    errorCode: kind === "failure" ? (code ?? null) : null,
    message: kind === "failure" ? (message ?? trigger.last_error) : null,
    failures: trigger.consecutive_failures,
    at: at.toISOString(),
  };
}

/** A Slack incoming-webhook body: one line of text a person reads in a channel. */
function slackBody(p: AlertPayload): { text: string } {
  const where = `${p.function} (${p.trigger.type} trigger ${p.trigger.id}, tenant ${p.tenant})`;
  if (p.kind === "recovery")
    return { text: `:white_check_mark: ${where} recovered: its last run succeeded.` };
  const runs = p.failures === 1 ? "1 failed run" : `${p.failures} failed runs in a row`;
  const error = p.errorCode ? `${p.errorCode}: ${p.message ?? ""}` : (p.message ?? "unknown error");
  const invocation = p.invocationId ? ` Invocation ${p.invocationId}.` : "";
  return { text: `:rotating_light: ${where}: ${runs}. ${error}.${invocation}` };
}
