import { useState } from "preact/hooks";
import { type ApiError, asApiError, seg } from "../api.ts";
import { ErrorNote, fmtMs, fmtTime, Loading } from "../components.tsx";
import { canWrite, useSession } from "../session.ts";
import type { FunctionInfo, Page } from "../types.ts";
import { useLoad } from "../use-load.ts";
import { ConfigEditor } from "./config-editor.tsx";

interface EnvVar {
  key: string;
  value: string;
  updatedAt: string;
}
interface RouteInfo {
  id: string;
  method: string;
  path: string;
  host: string | null;
  function: string;
}
interface DomainInfo {
  hostname: string;
  status: string;
  verification: { type: "TXT"; name: string; value: string };
  expiresAt: string | null;
}
type Config = Record<string, unknown>;

/**
 * The function's settings: env vars (they take effect on the next invocation), what the live
 * version's kumo.json says about secrets, limits, scaling and access (editable by saving a new
 * version, see ConfigEditor), and the tenant routes that point at the function (added and removed
 * here), and the tenant's custom domains (claimed here, verified by their DNS TXT record).
 */
export function Settings({ fn, onDeployed }: { fn: FunctionInfo; onDeployed(): void }) {
  const { api, who } = useSession();
  const writer = canWrite(who.role);
  const base = `/v1/functions/${seg(fn.name)}`;
  const data = useLoad(
    async (signal) => {
      const [env, version, routes, domains] = await Promise.all([
        api.get<Page<EnvVar>>(`${base}/env`, signal),
        fn.liveVersion
          ? api.get<{ config: Config }>(`${base}/versions/${fn.liveVersion}`, signal)
          : Promise.resolve({ config: fn.config }),
        api.get<Page<RouteInfo>>("/v1/routes?limit=500", signal),
        api.get<Page<DomainInfo>>("/v1/domains?limit=500", signal),
      ]);
      const mine = routes.items.filter((r) => r.function.split("@")[0] === fn.name);
      const hosts = new Set(mine.map((r) => r.host).filter(Boolean));
      return {
        env: env.items,
        config: version.config,
        routes: mine,
        domains: domains.items,
        routedHosts: hosts,
      };
    },
    [api, base, fn.liveVersion],
  );
  if (!data.data) return data.error ? <ErrorNote error={data.error} /> : <Loading />;
  const c = data.data.config;
  const scaling = (c.scaling ?? {}) as Config;
  return (
    <div class="settings">
      <EnvVars base={base} vars={data.data.env} writer={writer} onChanged={data.reload} />
      <section aria-labelledby="s-secrets">
        <h2 id="s-secrets">Secrets</h2>
        {asList(c.secrets).length ? (
          <p>
            {asList(c.secrets).map((s) => (
              <code key={s}>{s} </code>
            ))}
            <a href="/secrets">manage values</a>
          </p>
        ) : (
          <p class="muted">
            None. List tenant secrets under "secrets" in kumo.json to read them as env vars.
          </p>
        )}
      </section>
      <section aria-labelledby="s-limits">
        <h2 id="s-limits">Limits</h2>
        <dl class="facts" data-testid="limits">
          <Fact label="Memory" value={`${num(c.memoryMb) ?? 128} MB`} />
          <Fact label="Timeout" value={fmtMs(num(c.timeoutMs) ?? 10_000)} />
          <Fact label="CPU per request (edge)" value={fmtMs(num(c.cpuMs) ?? 50)} />
          <Fact
            label="Max body"
            value={c.maxBodyBytes ? `${Math.round(Number(c.maxBodyBytes) / 1024)} KB` : "platform"}
          />
          <Fact label="Async retries" value={String(c.maxRetries ?? 2)} />
        </dl>
      </section>
      <section aria-labelledby="s-scaling">
        <h2 id="s-scaling">Scaling</h2>
        <dl class="facts">
          <Fact label="Instances" value={`${scaling.minInstances ?? 0} to ${scaling.maxInstances ?? 10}`} />
          <Fact label="Concurrency per instance" value={String(scaling.concurrency ?? "runtime default")} />
          <Fact label="Max concurrency" value={String(scaling.maxConcurrency ?? "–")} />
          <Fact label="Idle before scale to zero" value={fmtMs(num(scaling.idleTtlMs) ?? 300_000)} />
        </dl>
      </section>
      <section aria-labelledby="s-auth">
        <h2 id="s-auth">Access</h2>
        <dl class="facts">
          <Fact label="HTTP auth" value={json(c.httpAuth ?? "public")} />
          <Fact label="Rate limit" value={c.rateLimit ? json(c.rateLimit) : "none"} />
          <Fact label="IP allowlist" value={c.ipAllowlist ? json(c.ipAllowlist) : "any"} />
          <Fact label="CORS" value={c.cors ? json(c.cors) : "off"} />
          <Fact label="Egress" value={c.egress ? "allowed" : "none"} />
        </dl>
      </section>
      {writer && (
        <details class="edit-config">
          <summary>Edit limits, scaling and access</summary>
          <ConfigEditor
            fn={fn}
            config={c}
            onDeployed={() => {
              onDeployed();
              data.reload();
            }}
          />
        </details>
      )}
      <section aria-labelledby="s-routes">
        <h2 id="s-routes">Routes</h2>
        <p>
          <a href={fn.url}>{fn.url}</a>
        </p>
        {data.data.routes.length === 0 ? (
          <p class="muted">No custom routes point at this function.</p>
        ) : (
          <table class="grid" data-testid="routes">
            <tbody>
              {data.data.routes.map((r) => (
                <tr key={r.id}>
                  <td>{r.method}</td>
                  <td>
                    <code>
                      {r.host ?? ""}
                      {r.path}
                    </code>
                  </td>
                  <td>{r.function}</td>
                  <td>{writer && <RemoveRoute route={r} onRemoved={data.reload} />}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {writer && <AddRoute fn={fn} onAdded={data.reload} />}
      </section>
      <Domains
        domains={data.data.domains}
        routedHosts={data.data.routedHosts}
        writer={writer}
        onChanged={data.reload}
      />
    </div>
  );
}

function EnvVars(props: { base: string; vars: EnvVar[]; writer: boolean; onChanged(): void }) {
  const { api } = useSession();
  const [key, setKey] = useState("");
  const [value, setValue] = useState("");
  const [error, setError] = useState<ApiError>();
  const run = async (method: "PUT" | "DELETE", k: string, body?: unknown) => {
    setError(undefined);
    try {
      await api.send(method, `${props.base}/env/${seg(k)}`, body);
      props.onChanged();
      return true;
    } catch (e) {
      setError(asApiError(e));
      return false;
    }
  };
  return (
    <section aria-labelledby="s-env">
      <h2 id="s-env">Environment variables</h2>
      <p class="muted small">
        Take effect on the next invocation, without a deploy; kumo.json's "env" is the default.
      </p>
      {props.vars.length > 0 && (
        <table class="grid" data-testid="env">
          <tbody>
            {props.vars.map((v) => (
              <tr key={v.key}>
                <td>
                  <code>{v.key}</code>
                </td>
                <td>
                  <code>{v.value}</code>
                </td>
                <td class="muted small">{fmtTime(v.updatedAt)}</td>
                <td>
                  {props.writer && (
                    <button type="button" onClick={() => void run("DELETE", v.key)}>
                      Remove {v.key}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {props.writer && (
        <form
          class="inline-form"
          aria-label="Set an env var"
          onSubmit={(e) => {
            e.preventDefault();
            void run("PUT", key, { value }).then((ok) => {
              if (!ok) return;
              setKey("");
              setValue("");
            });
          }}
        >
          <label>
            Key{" "}
            <input
              required
              pattern="[A-Za-z_][A-Za-z0-9_]{0,127}"
              title="letters, digits and underscores, not starting with a digit"
              value={key}
              onInput={(e) => setKey(e.currentTarget.value)}
            />
          </label>
          <label>
            Value <input value={value} onInput={(e) => setValue(e.currentTarget.value)} />
          </label>
          <button type="submit">Set variable</button>
        </form>
      )}
      <ErrorNote error={error} />
    </section>
  );
}

function RemoveRoute({ route, onRemoved }: { route: RouteInfo; onRemoved(): void }) {
  const { api } = useSession();
  const [error, setError] = useState<ApiError>();
  return (
    <>
      <button
        type="button"
        onClick={() => {
          setError(undefined);
          api
            .send("DELETE", `/v1/routes/${seg(route.id)}`)
            .then(onRemoved, (e: unknown) => setError(asApiError(e)));
        }}
      >
        Remove route {route.method} {route.path}
      </button>
      <ErrorNote error={error} />
    </>
  );
}

const ROUTE_METHODS = ["ANY", "GET", "POST", "PUT", "PATCH", "DELETE"] as const;

/** A tenant route to this function (or one of its aliases): method, path pattern, optional host. */
function AddRoute({ fn, onAdded }: { fn: FunctionInfo; onAdded(): void }) {
  const { api } = useSession();
  const [method, setMethod] = useState<string>("ANY");
  const [path, setPath] = useState("");
  const [host, setHost] = useState("");
  const [target, setTarget] = useState(fn.name);
  const [error, setError] = useState<ApiError>();
  return (
    <form
      class="inline-form"
      aria-label="Add a route"
      onSubmit={(e) => {
        e.preventDefault();
        setError(undefined);
        const body = { method, path, function: target, ...(host ? { host } : {}) };
        api.send("POST", "/v1/routes", body).then(
          () => {
            setPath("");
            setHost("");
            onAdded();
          },
          (err: unknown) => setError(asApiError(err)),
        );
      }}
    >
      <label>
        Method{" "}
        <select value={method} onChange={(e) => setMethod(e.currentTarget.value)}>
          {ROUTE_METHODS.map((m) => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
        </select>
      </label>
      <label>
        Path pattern{" "}
        <input
          required
          placeholder="/api/orders/:id"
          value={path}
          onInput={(e) => setPath(e.currentTarget.value)}
        />
      </label>
      <label>
        Host (optional){" "}
        <input placeholder="api.example.com" value={host} onInput={(e) => setHost(e.currentTarget.value)} />
      </label>
      <label>
        Target{" "}
        <input
          required
          pattern={"[a-z][a-z0-9\\-]{0,62}(@[a-z0-9][a-z0-9\\-]{0,62})?"}
          title="the function's name, optionally with @alias or @vN"
          value={target}
          onInput={(e) => setTarget(e.currentTarget.value)}
        />
      </label>
      <button type="submit">Add route</button>
      <ErrorNote error={error} />
    </form>
  );
}

/**
 * The tenant's custom domains: a claim answers with a TXT record to publish; Verify checks it. A
 * verified domain serves the tenant's routes that name it as their host.
 */
function Domains(props: {
  domains: DomainInfo[];
  routedHosts: Set<string | null>;
  writer: boolean;
  onChanged(): void;
}) {
  const { api } = useSession();
  const [hostname, setHostname] = useState("");
  const [error, setError] = useState<ApiError>();
  const run = (method: string, path: string, body?: unknown) => {
    setError(undefined);
    return api.send(method, path, body).then(
      () => {
        props.onChanged();
        return true;
      },
      (e: unknown) => {
        setError(asApiError(e));
        return false;
      },
    );
  };
  return (
    <section aria-labelledby="s-domains">
      <h2 id="s-domains">Custom domains</h2>
      {props.domains.length === 0 ? (
        <p class="muted">No custom domains. Claim one, publish its TXT record, then verify it.</p>
      ) : (
        <table class="grid" data-testid="domains">
          <tbody>
            {props.domains.map((d) => (
              <tr key={d.hostname}>
                <td>
                  <code>{d.hostname}</code>
                  {props.routedHosts.has(d.hostname) && (
                    <span class="muted small"> (used by this function)</span>
                  )}
                </td>
                <td>
                  <span class="tag">{d.status}</span>
                </td>
                <td>
                  {d.status === "pending" && (
                    <span class="small">
                      TXT <code>{d.verification.name}</code> = <code>{d.verification.value}</code>
                    </span>
                  )}
                </td>
                <td>
                  {props.writer && d.status === "pending" && (
                    <button
                      type="button"
                      onClick={() => void run("POST", `/v1/domains/${seg(d.hostname)}/verify`)}
                    >
                      Verify {d.hostname}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {props.writer && (
        <form
          class="inline-form"
          aria-label="Claim a domain"
          onSubmit={(e) => {
            e.preventDefault();
            void run("POST", "/v1/domains", { hostname }).then((ok) => ok && setHostname(""));
          }}
        >
          <label>
            Hostname{" "}
            <input
              required
              placeholder="api.example.com"
              value={hostname}
              onInput={(e) => setHostname(e.currentTarget.value)}
            />
          </label>
          <button type="submit">Claim domain</button>
        </form>
      )}
      <ErrorNote error={error} />
    </section>
  );
}

function Fact({ label, value }: { label: string; value: string }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{value}</dd>
    </>
  );
}

const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);
const asList = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
const json = (v: unknown): string => (typeof v === "string" ? v : JSON.stringify(v));
