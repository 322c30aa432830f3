import { useEffect, useState } from "preact/hooks";
import { type ApiError, asApiError, seg } from "../api.ts";
import { ErrorNote, fmtTime, Loading, NotFound } from "../components.tsx";
import { useSession } from "../session.ts";
import type { Deployment, DeploymentListItem, FunctionInfo, Page } from "../types.ts";
import { useLoad } from "../use-load.ts";

/** Deployments newest first; one opens with its build log, followed live while it builds. */
export function Deployments({ fn, id }: { fn: FunctionInfo; id: string | undefined }) {
  const { api } = useSession();
  const base = `/v1/functions/${seg(fn.name)}/deployments`;
  const list = useLoad(
    (signal) => api.get<Page<DeploymentListItem>>(`${base}?limit=50`, signal),
    [api, base],
  );
  if (id) return <DeploymentView fn={fn} id={id} />;
  if (!list.data) return list.error ? <ErrorNote error={list.error} /> : <Loading />;
  const page = `/functions/${seg(fn.name)}/deployments`;
  return (
    <table class="grid" data-testid="deployments">
      <thead>
        <tr>
          <th>Started</th>
          <th>Status</th>
          <th>Version</th>
          <th>Source</th>
          <th>By</th>
          <th>Finished</th>
        </tr>
      </thead>
      <tbody>
        {list.data.items.map((d) => (
          <tr key={d.id}>
            <td>
              <a href={`${page}/${d.id}`}>{fmtTime(d.createdAt)}</a>
            </td>
            <td class={d.status === "failed" ? "bad" : ""}>
              {d.status}
              {d.error ? ` (${d.error.code})` : ""}
            </td>
            <td>{d.version ? `v${d.version}` : "–"}</td>
            <td>{d.sourceKind}</td>
            <td>{d.createdBy}</td>
            <td>{fmtTime(d.finishedAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function DeploymentView({ fn, id }: { fn: FunctionInfo; id: string }) {
  const { api } = useSession();
  const url = `/v1/functions/${seg(fn.name)}/deployments/${seg(id)}`;
  const dep = useLoad((signal) => api.get<Deployment & DeploymentListItem>(url, signal), [api, url]);
  const [log, setLog] = useState<string[]>([]);
  const [status, setStatus] = useState<Deployment>();
  const [error, setError] = useState<ApiError>();
  const building = dep.data && (dep.data.status === "queued" || dep.data.status === "building");
  useEffect(() => {
    if (!building) return;
    const abort = new AbortController();
    setLog([]);
    api
      .stream(`${url}?follow=1`, abort.signal, (event, data) => {
        if (event === "log") setLog((l) => [...l, (data as { line: string }).line]);
        if (event === "status") {
          setStatus(data as Deployment);
          dep.reload();
        }
      })
      .catch((e: unknown) => {
        if (!abort.signal.aborted) setError(asApiError(e));
      });
    return () => abort.abort();
  }, [api, url, building, dep.reload]);
  if (dep.error?.status === 404 || dep.error?.status === 400) return <NotFound what={`Deployment ${id}`} />;
  if (!dep.data) return dep.error ? <ErrorNote error={dep.error} /> : <Loading />;
  const d = { ...dep.data, ...status };
  const lines = building ? log : (dep.data.log ?? "").split("\n").filter(Boolean);
  return (
    <div data-testid="deployment-detail">
      <p>
        <a href={`/functions/${seg(fn.name)}/deployments`}>← All deployments</a>
      </p>
      <dl class="facts">
        <dt>Id</dt>
        <dd>
          <code>{d.id}</code>
        </dd>
        <dt>Status</dt>
        <dd class={d.status === "failed" ? "bad" : ""}>
          {d.status} {d.version ? `→ v${d.version}` : ""}
        </dd>
        {d.error && (
          <>
            <dt>Error</dt>
            <dd>
              <code>{d.error.code}</code> {d.error.message}
            </dd>
          </>
        )}
        <dt>Source</dt>
        <dd>{d.sourceKind}</dd>
        <dt>Started</dt>
        <dd>{fmtTime(d.createdAt)}</dd>
        <dt>Finished</dt>
        <dd>{fmtTime(d.finishedAt)}</dd>
      </dl>
      <ErrorNote error={error} />
      <h2>Build log</h2>
      <pre class="logs" data-testid="build-log">
        {lines.length ? lines.join("\n") : <span class="muted">No build output.</span>}
      </pre>
    </div>
  );
}
