import { Fragment } from "preact";
import { useState } from "preact/hooks";
import { type ApiError, asApiError, seg } from "../api.ts";
import { ErrorNote, fmtTime, Loading, NotFound } from "../components.tsx";
import { describeCron } from "../cron-description.ts";
import { canInvoke, canWrite, useSession } from "../session.ts";
import type { FunctionInfo, NextRuns, Page, TriggerDetail } from "../types.ts";
import { useLoad } from "../use-load.ts";

/** The function's triggers with their state; one opens with its next runs and its source's health. */
export function Triggers({ fn, id }: { fn: FunctionInfo; id: string | undefined }) {
  const { api } = useSession();
  const base = `/v1/functions/${seg(fn.name)}/triggers`;
  const list = useLoad((signal) => api.get<Page<TriggerDetail>>(`${base}?limit=100`, signal), [api, base]);
  if (id) return <TriggerView fn={fn} id={id} />;
  if (!list.data) return list.error ? <ErrorNote error={list.error} /> : <Loading />;
  const page = `/functions/${seg(fn.name)}/triggers`;
  return (
    <div>
      {list.data.items.length === 0 && (
        <p class="muted">No triggers. Declare them under "triggers" in kumo.json and deploy.</p>
      )}
      <table class="grid" data-testid="triggers">
        <thead>
          <tr>
            <th>Trigger</th>
            <th>When</th>
            <th>State</th>
            <th>Last</th>
          </tr>
        </thead>
        <tbody>
          {list.data.items.map((t) => (
            <tr key={t.id}>
              <td>
                <a href={`${page}/${t.id}`}>{t.type}</a> <span class="muted small">{t.source}</span>
              </td>
              <td>
                <What t={t} />
              </td>
              <td class={health(t) === "failing" ? "bad" : ""}>
                {t.paused ? "paused" : health(t)}
                {t.type === "cron" && !t.paused ? ` · next ${fmtTime(t.state.nextFireAt)}` : ""}
                {lagOf(t) !== undefined ? ` · lag ${lagOf(t)}` : ""}
              </td>
              <td>
                {t.state.lastStatus ?? "–"} {t.state.lastFiredAt ? fmtTime(t.state.lastFiredAt) : ""}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function What({ t }: { t: TriggerDetail }) {
  if (t.type === "cron" && t.schedule) {
    const words = describeCron(t.schedule);
    return (
      <span>
        {words ? `${words} ` : ""}
        <code>{t.schedule}</code> <span class="muted small">{t.timezone ?? "UTC"}</span>
      </span>
    );
  }
  if (t.type === "event") return <code>{t.eventType}</code>;
  const s = t.settings ?? {};
  if (t.type === "queue") return <code>{String(s.queue ?? "")}</code>;
  if (t.type === "database") return <code>{Array.isArray(s.tables) ? s.tables.join(", ") : ""}</code>;
  return <span>–</span>;
}

const lagOf = (t: TriggerDetail): number | undefined => {
  const lag = t.state.source?.lag;
  return typeof lag === "number" ? lag : undefined;
};

function health(t: TriggerDetail): "failing" | "ok" | "idle" {
  if (t.state.consecutiveFailures > 0 || t.state.source?.error || t.state.lastStatus === "error")
    return "failing";
  return t.state.lastFiredAt ? "ok" : "idle";
}

function TriggerView({ fn, id }: { fn: FunctionInfo; id: string }) {
  const { api, who } = useSession();
  const url = `/v1/functions/${seg(fn.name)}/triggers/${seg(id)}`;
  const trigger = useLoad((signal) => api.get<TriggerDetail>(url, signal), [api, url]);
  const isCron = trigger.data?.type === "cron";
  const next = useLoad(
    (signal) =>
      isCron ? api.get<NextRuns>(`${url}/next?count=5`, signal) : Promise.resolve<NextRuns>({ items: [] }),
    [api, url, isCron],
  );
  const [error, setError] = useState<ApiError>();
  const [note, setNote] = useState("");
  const act = async (run: () => Promise<unknown>, done: string) => {
    setError(undefined);
    try {
      await run();
      setNote(done);
      trigger.reload();
      next.reload();
    } catch (e) {
      setError(asApiError(e));
    }
  };
  if (trigger.error?.status === 404 || trigger.error?.status === 400)
    return <NotFound what={`Trigger ${id}`} />;
  if (!trigger.data) return trigger.error ? <ErrorNote error={trigger.error} /> : <Loading />;
  const t = trigger.data;
  const source = Object.entries(t.state.source ?? {}).filter(([k]) => k !== "inflight");
  const inflight = t.state.source?.inflight as { refs?: unknown[] } | null | undefined;
  return (
    <div data-testid="trigger">
      <p>
        <a href={`/functions/${seg(fn.name)}/triggers`}>← All triggers</a>
      </p>
      <ErrorNote error={error} />
      {note && <p role="status">{note}</p>}
      <div class="row">
        {canWrite(who.role) && (
          <button
            type="button"
            onClick={() =>
              void act(() => api.send("PATCH", url, { paused: !t.paused }), t.paused ? "Resumed." : "Paused.")
            }
          >
            {t.paused ? "Resume" : "Pause"}
          </button>
        )}
        {canInvoke(who.role) && (
          <button type="button" onClick={() => void act(() => api.send("POST", `${url}/fire`, {}), "Fired.")}>
            Fire now
          </button>
        )}
      </div>
      <dl class="facts">
        <dt>Type</dt>
        <dd>
          {t.type} <span class="muted small">({t.source === "config" ? "from kumo.json" : t.source})</span>
        </dd>
        <dt>When</dt>
        <dd data-testid="trigger-when">
          <What t={t} />
        </dd>
        <dt>State</dt>
        <dd>
          {t.paused ? "paused" : health(t)}
          {t.state.consecutiveFailures > 0 ? ` · ${t.state.consecutiveFailures} failures in a row` : ""}
        </dd>
        <dt>Last fired</dt>
        <dd>
          {fmtTime(t.state.lastFiredAt)} {t.state.lastStatus ?? ""}{" "}
          {t.state.lastInvocationId && (
            <a href={`/functions/${seg(fn.name)}/invocations/${t.state.lastInvocationId}`}>invocation</a>
          )}
        </dd>
        {t.state.lastError && (
          <>
            <dt>Last error</dt>
            <dd class="bad">{t.state.lastError}</dd>
          </>
        )}
        {t.target && (
          <>
            <dt>Target</dt>
            <dd>
              <code>{t.target}</code>
            </dd>
          </>
        )}
        {t.overlap && (
          <>
            <dt>Overlap</dt>
            <dd>{t.overlap}</dd>
          </>
        )}
        {source.map(([k, v]) => (
          <Fragment key={k}>
            <dt>{k}</dt>
            <dd class={k === "error" && v ? "bad" : ""}>
              {v === null || v === undefined ? "–" : typeof v === "object" ? JSON.stringify(v) : String(v)}
            </dd>
          </Fragment>
        ))}
        {inflight?.refs && (
          <>
            <dt>In flight</dt>
            <dd>{inflight.refs.length} messages</dd>
          </>
        )}
        <dt>Failure alert</dt>
        <dd>
          {t.alert ? `${t.alert.url} · ${t.state.alert.status ?? "ok"}` : <span class="muted">none</span>}
        </dd>
      </dl>
      {t.settings && (
        <>
          <h2>Settings</h2>
          <pre class="code">{JSON.stringify(t.settings, null, 2)}</pre>
        </>
      )}
      {isCron && (
        <>
          <h2>Next runs</h2>
          <ErrorNote error={next.error} />
          {t.paused && <p class="muted small">Paused: these are when it would run.</p>}
          <ol data-testid="next-runs">
            {next.data?.items.map((r) => (
              <li key={r.at}>
                {fmtTime(r.at)}{" "}
                <span class="muted small">
                  {r.local} ({t.timezone ?? "UTC"})
                </span>
              </li>
            ))}
          </ol>
        </>
      )}
    </div>
  );
}
