import { useState } from "preact/hooks";
import { ApiError, asApiError, seg } from "../api.ts";
import { ErrorNote } from "../components.tsx";
import { deployFiles } from "../deploy-files.ts";
import { useSession } from "../session.ts";
import type { Deployment, FunctionInfo, SourceFiles } from "../types.ts";

type Config = Record<string, unknown>;

/** A number field of the form: its kumo.json key, under `scaling` when `scaled`. */
interface NumberField {
  key: string;
  label: string;
  scaled?: boolean;
  edgeOnly?: boolean;
  /** Optional settings: an empty field removes the key (the platform's default applies). */
  optional?: boolean;
}

const NUMBERS: NumberField[] = [
  { key: "memoryMb", label: "Memory (MB)" },
  { key: "timeoutMs", label: "Timeout (ms)" },
  { key: "cpuMs", label: "CPU per request (ms)", edgeOnly: true },
  { key: "maxRetries", label: "Async retries" },
  { key: "minInstances", label: "Min instances", scaled: true },
  { key: "maxInstances", label: "Max instances", scaled: true },
  { key: "concurrency", label: "Concurrency per instance", scaled: true, optional: true },
  { key: "maxConcurrency", label: "Max concurrency", scaled: true, optional: true },
  { key: "idleTtlMs", label: "Idle before scale to zero (ms)", scaled: true },
];

/** Access settings edited as JSON (their shapes are documented under kumo.json in the README). */
const JSON_FIELDS = [
  { key: "httpAuth", label: "HTTP auth (JSON)", placeholder: '"public", "key" or {"jwt": {…}}' },
  { key: "rateLimit", label: "Rate limit (JSON)", placeholder: '{"requests": 100, "per": "1s"}' },
  { key: "ipAllowlist", label: "IP allowlist (JSON)", placeholder: '["10.0.0.0/8"]' },
  { key: "cors", label: "CORS (JSON)", placeholder: '{"origins": ["https://app.example.com"]}' },
] as const;

/**
 * Limits, scaling and access of a function, edited as a form. A version's configuration is part of
 * the version (immutable, as its code is), so saving deploys the live version's source again with
 * kumo.json changed: a new version that can be rolled back like any other. The platform validates
 * the result against the kumo.json schema; its FN_006 message names the field to fix.
 */
export function ConfigEditor(props: { fn: FunctionInfo; config: Config; onDeployed(): void }) {
  const { api } = useSession();
  const { fn, config } = props;
  const scaling = (config.scaling ?? {}) as Config;
  const initial = () => {
    const values: Record<string, string> = {};
    for (const f of NUMBERS) {
      const v = f.scaled ? scaling[f.key] : config[f.key];
      values[f.key] = typeof v === "number" ? String(v) : "";
    }
    for (const f of JSON_FIELDS)
      values[f.key] = config[f.key] === undefined ? "" : JSON.stringify(config[f.key]);
    return values;
  };
  const [values, setValues] = useState(initial);
  const [egress, setEgress] = useState(config.egress === true);
  const [busy, setBusy] = useState(false);
  const [deployment, setDeployment] = useState<Deployment>();
  const [error, setError] = useState<ApiError>();
  const edge = fn.runtime === "edge";

  const changes = (): { top: Config; scaled: Config; removed: string[] } => {
    const top: Config = { egress };
    const scaled: Config = {};
    const removed: string[] = [];
    for (const f of NUMBERS) {
      if (f.edgeOnly && !edge) continue;
      const raw = (values[f.key] ?? "").trim();
      if (raw === "") {
        if (f.optional) removed.push(f.scaled ? `scaling.${f.key}` : f.key);
        continue;
      }
      const n = Number(raw);
      if (!Number.isFinite(n)) throw new ApiError(0, "FORM", `${f.label}: "${raw}" is not a number`);
      (f.scaled ? scaled : top)[f.key] = n;
    }
    for (const f of JSON_FIELDS) {
      const raw = (values[f.key] ?? "").trim();
      if (raw === "") {
        removed.push(f.key);
        continue;
      }
      try {
        top[f.key] = JSON.parse(raw);
      } catch (e) {
        throw new ApiError(0, "FORM", `${f.label}: not valid JSON (${(e as Error).message})`);
      }
    }
    return { top, scaled, removed };
  };

  const save = async () => {
    setError(undefined);
    setDeployment(undefined);
    if (!fn.liveVersion) {
      setError(new ApiError(0, "FORM", "Deploy code first (Code tab): settings are saved as a new version."));
      return;
    }
    setBusy(true);
    try {
      const { top, scaled, removed } = changes();
      const source = await api.get<SourceFiles>(
        `/v1/functions/${seg(fn.name)}/versions/${fn.liveVersion}/source`,
      );
      if (source.source !== "files")
        throw new ApiError(
          0,
          "FORM",
          "This version was deployed before sources were kept: deploy its code again first.",
        );
      const files = { ...source.files };
      let base: Config = config;
      if (files["kumo.json"] !== undefined) {
        try {
          base = JSON.parse(files["kumo.json"]) as Config;
        } catch (e) {
          throw new ApiError(
            0,
            "FORM",
            `kumo.json of v${fn.liveVersion} is not valid JSON: ${(e as Error).message}`,
          );
        }
      }
      const next: Config = { ...base, ...top, scaling: { ...((base.scaling ?? {}) as Config), ...scaled } };
      for (const path of removed) {
        if (path.startsWith("scaling.")) delete (next.scaling as Config)[path.slice("scaling.".length)];
        else delete next[path];
      }
      files["kumo.json"] = `${JSON.stringify(next, null, 2)}\n`;
      const status = await deployFiles(api, fn.name, files, setDeployment);
      if (status.status === "succeeded") props.onDeployed();
    } catch (e) {
      setError(asApiError(e));
    } finally {
      setBusy(false);
    }
  };

  const set = (key: string) => (e: { currentTarget: HTMLInputElement | HTMLTextAreaElement }) =>
    setValues((v) => ({ ...v, [key]: e.currentTarget.value }));
  return (
    <section aria-labelledby="s-config">
      <h2 id="s-config">Limits, scaling and access</h2>
      <p class="muted small">
        Saving deploys the live version's code again with these settings in kumo.json: a new version, which
        rolls back like any other.
      </p>
      <form
        class="config-form"
        aria-label="Function settings"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        {NUMBERS.filter((f) => edge || !f.edgeOnly).map((f) => (
          <label key={f.key}>
            {f.label}
            <input
              type="number"
              min="0"
              placeholder={f.optional ? "default" : ""}
              value={values[f.key]}
              onInput={set(f.key)}
            />
          </label>
        ))}
        <label class="check">
          <input type="checkbox" checked={egress} onChange={(e) => setEgress(e.currentTarget.checked)} />{" "}
          Outbound network (egress)
        </label>
        {JSON_FIELDS.map((f) => (
          <label key={f.key} class="wide">
            {f.label}
            <textarea rows={2} placeholder={f.placeholder} value={values[f.key]} onInput={set(f.key)} />
          </label>
        ))}
        <div class="row">
          <button type="submit" disabled={busy}>
            {busy ? "Saving…" : "Save as new version"}
          </button>
          {deployment && (
            <span data-testid="settings-deployment" class={deployment.status === "failed" ? "bad" : ""}>
              Deployment {deployment.status}
              {deployment.version ? ` (v${deployment.version})` : ""}
              {deployment.error ? `: ${deployment.error.message}` : ""}
            </span>
          )}
        </div>
      </form>
      <ErrorNote error={error} />
    </section>
  );
}
