import { useLocation } from "preact-iso";
import { seg } from "../api.ts";
import { ErrorNote, fmtMs, fmtTime, Loading, NotFound } from "../components.tsx";
import { useSession } from "../session.ts";
import type { FunctionInfo, Invocation, InvocationDetail, Page } from "../types.ts";
import { useLoad } from "../use-load.ts";
import { LogTail } from "./log-tail.tsx";

const STATUSES = ["", "succeeded", "failed", "queued", "running"] as const;
const TRIGGERS = ["", "http", "api", "async", "cron", "queue", "database", "event"] as const;

/** Server-paged history (cursor in the URL), filtered by status and trigger. */
export function Invocations({ fn }: { fn: FunctionInfo }) {
  const { api } = useSession();
  const location = useLocation();
  const { status = "", trigger = "", cursor = "" } = location.query;
  const query = new URLSearchParams({ limit: "50" });
  if (status) query.set("status", status);
  if (trigger) query.set("trigger", trigger);
  if (cursor) query.set("cursor", cursor);
  const base = `/functions/${seg(fn.name)}/invocations`;
  const page = useLoad(
    (signal) => api.get<Page<Invocation>>(`/v1/functions/${seg(fn.name)}/invocations?${query}`, signal),
    [api, fn.name, query.toString()],
  );
  const go = (change: Record<string, string>) => {
    const next = new URLSearchParams({ status, trigger, ...change });
    for (const [k, v] of [...next]) if (!v) next.delete(k);
    location.route(`${base}${next.size ? `?${next}` : ""}`);
  };
  return (
    <div>
      <div class="row">
        <label>
          Status{" "}
          <select value={status} onChange={(e) => go({ status: e.currentTarget.value, cursor: "" })}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s || "any"}
              </option>
            ))}
          </select>
        </label>
        <label>
          Trigger{" "}
          <select value={trigger} onChange={(e) => go({ trigger: e.currentTarget.value, cursor: "" })}>
            {TRIGGERS.map((t) => (
              <option key={t} value={t}>
                {t || "any"}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={page.reload}>
          Refresh
        </button>
      </div>
      <ErrorNote error={page.error} />
      {page.loading && !page.data && <Loading />}
      <table class="grid" data-testid="invocations">
        <thead>
          <tr>
            <th>Started</th>
            <th>Status</th>
            <th>Code</th>
            <th>Trigger</th>
            <th>Version</th>
            <th>Duration</th>
            <th>Cold</th>
          </tr>
        </thead>
        <tbody>
          {page.data?.items.map((i) => (
            <tr key={i.id}>
              <td>
                <a href={`${base}/${i.id}`}>{fmtTime(i.startedAt)}</a>
              </td>
              <td class={i.status === "failed" ? "bad" : ""}>{i.status}</td>
              <td>{i.errorCode ?? i.statusCode ?? "–"}</td>
              <td>{i.trigger}</td>
              <td>v{i.version}</td>
              <td>{fmtMs(i.durationMs)}</td>
              <td>{i.coldStart ?? "–"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {page.data?.items.length === 0 && <p class="muted">No invocations match.</p>}
      <div class="row">
        {cursor && (
          <button type="button" onClick={() => history.back()}>
            Previous page
          </button>
        )}
        {page.data?.nextCursor && (
          <button type="button" onClick={() => go({ cursor: page.data?.nextCursor ?? "" })}>
            Next page
          </button>
        )}
      </div>
    </div>
  );
}

export function InvocationView({ id, fn }: { id: string; fn: FunctionInfo }) {
  const { api } = useSession();
  const inv = useLoad((signal) => api.get<InvocationDetail>(`/v1/invocations/${seg(id)}`, signal), [api, id]);
  if (inv.error?.status === 404 || inv.error?.status === 400) return <NotFound what={`Invocation ${id}`} />;
  if (inv.error) return <ErrorNote error={inv.error} />;
  if (!inv.data) return <Loading />;
  const i = inv.data;
  return (
    <div data-testid="invocation">
      <p>
        <a href={`/functions/${seg(fn.name)}/invocations`}>← All invocations</a>
      </p>
      <dl class="facts">
        <dt>Id</dt>
        <dd>
          <code>{i.id}</code>
        </dd>
        <dt>Status</dt>
        <dd>
          {i.status} {i.statusCode ?? ""} {i.errorCode ? `${i.errorCode}: ${i.errorMessage ?? ""}` : ""}
        </dd>
        <dt>Trigger</dt>
        <dd>{i.trigger}</dd>
        <dt>Version</dt>
        <dd>v{i.version}</dd>
        <dt>Started</dt>
        <dd>{fmtTime(i.startedAt)}</dd>
        <dt>Duration</dt>
        <dd>
          {fmtMs(i.durationMs)} ({i.coldStart ?? "–"})
        </dd>
        <dt>Bytes in / out</dt>
        <dd>
          {i.requestBytes ?? "–"} / {i.responseBytes ?? "–"}
        </dd>
        <dt>Trace id</dt>
        <dd>
          <code>{i.traceId ?? "–"}</code>
        </dd>
      </dl>
      <h2>Logs</h2>
      <LogTail functionName={fn.name} invocationId={i.id} />
    </div>
  );
}

export function LogList({ logs }: { logs: { ts: string; level: string; message: string }[] }) {
  if (logs.length === 0) return <p class="muted">No log lines.</p>;
  return (
    <pre class="logs" data-testid="logs">
      {logs.map((l, n) => (
        <div key={n} class={`log ${l.level}`}>
          <span class="muted">{l.ts.slice(11, 23)}</span> <b>{l.level}</b> {l.message}
        </div>
      ))}
    </pre>
  );
}
