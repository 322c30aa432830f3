import { useState } from "preact/hooks";
import { ApiError, seg } from "../api.ts";
import { Confirm, ErrorNote, fmtTime, Loading } from "../components.tsx";
import { canWrite, useSession } from "../session.ts";
import type { Alias, FunctionInfo, Page, Version } from "../types.ts";
import { useLoad } from "../use-load.ts";

/** Versions newest first, the aliases' routing, and rollback (after a confirmation). */
export function Versions({ fn, onChanged }: { fn: FunctionInfo; onChanged(): void }) {
  const { api, who } = useSession();
  const base = `/v1/functions/${seg(fn.name)}`;
  const data = useLoad(
    async (signal) => {
      const [versions, aliases] = await Promise.all([
        api.get<Page<Version>>(`${base}/versions?limit=100`, signal),
        api.get<{ items: Alias[] }>(`${base}/aliases`, signal),
      ]);
      return { versions: versions.items, aliases: aliases.items };
    },
    [api, base],
  );
  const [target, setTarget] = useState<number | null>(null);
  const [error, setError] = useState<ApiError>();
  const rollback = async () => {
    if (target === null) return;
    setError(undefined);
    try {
      await api.send("POST", `${base}/rollback`, { to: target });
      setTarget(null);
      data.reload();
      onChanged();
    } catch (e) {
      setTarget(null);
      setError(e instanceof ApiError ? e : new ApiError(0, "CLIENT", String(e)));
    }
  };
  if (!data.data) return data.error ? <ErrorNote error={data.error} /> : <Loading />;
  const live = data.data.aliases.find((a) => a.name === "live");
  const liveVersions = new Set(live?.routing.map((r) => r.version));
  return (
    <div>
      <h2>Aliases</h2>
      <ul data-testid="aliases">
        {data.data.aliases.map((a) => (
          <li key={a.name}>
            <b>{a.name}</b> → {a.routing.map((r) => `v${r.version} ${r.weight}%`).join(", ")}
          </li>
        ))}
      </ul>
      <ErrorNote error={error} />
      <h2>Versions</h2>
      <table class="grid" data-testid="versions">
        <thead>
          <tr>
            <th>Version</th>
            <th>Created</th>
            <th>By</th>
            <th>Source</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {data.data.versions.map((v) => (
            <tr key={v.version}>
              <td>
                v{v.version} {liveVersions.has(v.version) && <span class="tag live">live</span>}
              </td>
              <td>{fmtTime(v.createdAt)}</td>
              <td>{v.createdBy}</td>
              <td>
                <code>{v.sourceDigest.slice(0, 12)}</code>
              </td>
              <td>
                {canWrite(who.role) && !liveVersions.has(v.version) && (
                  <button type="button" onClick={() => setTarget(v.version)}>
                    Roll back to v{v.version}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Confirm
        open={target !== null}
        title={`Roll back ${fn.name} to v${target ?? ""}?`}
        confirmLabel="Roll back"
        onConfirm={() => void rollback()}
        onCancel={() => setTarget(null)}
      >
        <p>"live" moves to v{target} at once; all traffic goes there.</p>
      </Confirm>
    </div>
  );
}
