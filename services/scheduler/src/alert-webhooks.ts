import { createHmac } from "node:crypto";
import { type SecretBox, WebhookClient, type WebhookResult } from "@kumo/core";
import { openTenantSecret, type PlatformStore } from "@kumo/db";

export interface AlertWebhooksOptions {
  platform: PlatformStore;
  /** Opens the tenant secrets that sign alert bodies; without it, a signed alert fails to send. */
  secretBox: SecretBox | undefined;
  allowPrivate: boolean;
  /** Host name to addresses, for tests; the system resolver otherwise. */
  resolve?: (hostname: string) => Promise<string[]>;
  now?: () => number;
}

/** Where one alert goes: a URL, the body's shape, and the tenant secret that signs it. */
export interface AlertTarget {
  url: string;
  format: "json" | "slack";
  secret?: string | undefined;
}

/**
 * Delivery of every alert the scheduler sends (trigger failures, alert rules): POST with the
 * destinations' address policy, retries and timeout (WebhookClient), as Kumo's JSON or as a Slack
 * incoming-webhook body, signed with HMAC-SHA256 (`kumo-signature: t=<unix seconds>,v1=<hex>` over
 * `<t>.<body>`) when the target names a tenant secret. Never throws: the result says what happened.
 */
export class AlertWebhooks {
  readonly #options: AlertWebhooksOptions;
  readonly #client: WebhookClient;
  readonly #now: () => number;

  constructor(options: AlertWebhooksOptions) {
    this.#options = options;
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

  async send(
    tenantId: string,
    target: AlertTarget,
    message: { json: object; slackText: string; kind: string },
  ): Promise<WebhookResult> {
    const body = Buffer.from(
      JSON.stringify(target.format === "slack" ? { text: message.slackText } : message.json),
    );
    try {
      const headers: Record<string, string> = { "kumo-alert": message.kind };
      if (target.secret) {
        const store = this.#options.platform.tenant(tenantId);
        const key = await openTenantSecret(store, target.secret, this.#options.secretBox);
        headers["kumo-signature"] = signature(key, body, Math.floor(this.#now() / 1000));
      }
      return await this.#client.post(target.url, body, headers);
    } catch (error) {
      return { delivered: false, refused: false, attempts: 0, error: String(error) };
    }
  }

  abort(): void {
    this.#client.abort();
  }
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the receiver checks the age and the MAC. */
export function signature(key: string, body: Buffer, unixSeconds: number): string {
  const mac = createHmac("sha256", key).update(`${unixSeconds}.`).update(body).digest("hex");
  return `t=${unixSeconds},v1=${mac}`;
}
