import { useEffect, useState } from "preact/hooks";
import { type ApiError, asApiError, seg } from "../api.ts";
import { Confirm, ErrorNote, fmtPct, fmtTime, Loading } from "../components.tsx";
import { canWrite, useSession } from "../session.ts";
import type { Alias, FunctionInfo, Page, Rollout, Version } from "../types.ts";
import { useLoad } from "../use-load.ts";
import { AliasEditor } from "./alias-editor.tsx";
import { RolloutForm, RolloutProgress } from "./rollouts.tsx";

const ROLLOUT_REFRESH_MS = 5_000;

/**
 * Traffic: the aliases' routing (weights editable), gradual rollouts with their progress, the
 * versions newest first with what changed, and rollback after a confirmation.
 */
export function Versions({ fn, onChanged }: { fn: FunctionInfo; onChanged(): void }) {
  const { api, who } = useSession();
  const writer = canWrite(who.role);
  const base = `/v1/functions/${seg(fn.name)}`;
  const data = useLoad(
    async (signal) => {
      const [versions, aliases, rollouts] = await Promise.all([
        api.get<Page<Version>>(`${base}/versions?limit=100`, signal),
        api.get<{ items: Alias[] }>(`${base}/aliases`, signal),
        api.get<Page<Rollout>>(`${base}/rollouts?limit=10`, signal),
      ]);
      return { versions: versions.items, aliases: aliases.items, rollouts: rollouts.items };
    },
    [api, base],
  );
  const [target, setTarget] = useState<number | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const [error, setError] = useState<ApiError>();
  const [note, setNote] = useState("");
  const fail = (e: unknown) => setError(asApiError(e));
  const changed = (message: string) => {
    setNote(message);
    data.reload();
    onChanged();
  };
  const rollback = async () => {
    if (target === null) return;
    setError(undefined);
    try {
      await api.send("POST", `${base}/rollback`, { to: target });
      setTarget(null);
      changed(`live is on v${target}.`);
    } catch (e) {
      setTarget(null);
      fail(e);
    }
  };
  const running = data.data?.rollouts.find((r) => r.status === "running");
  useRefreshWhile(Boolean(running), data.reload);

  if (!data.data) return data.error ? <ErrorNote error={data.error} /> : <Loading />;
  const { versions, aliases, rollouts } = data.data;
  const live = aliases.find((a) => a.name === "live");
  const liveVersions = new Set(live?.routing.map((r) => r.version));
  return (
    <div>
      <ErrorNote error={error} />
      {note && <p role="status">{note}</p>}
      <h2>Traffic</h2>
      <table class="grid" data-testid="aliases">
        <thead>
          <tr>
            <th>Alias</th>
            <th>Routing</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {aliases.map((a) => (
            <tr key={a.name}>
              <td>
                <b>{a.name}</b>
              </td>
              <td>
                {editing === a.name ? (
                  <AliasEditor
                    alias={a}
                    versions={versions.map((v) => v.version)}
                    onSave={async (routing) => {
                      setError(undefined);
                      try {
                        await api.send("PUT", `${base}/aliases/${seg(a.name)}`, { routing });
                        setEditing(null);
                        changed(`${a.name}: ${routing.map((r) => `v${r.version} ${r.weight}%`).join(", ")}.`);
                      } catch (e) {
                        fail(e);
                      }
                    }}
                    onCancel={() => setEditing(null)}
                  />
                ) : (
                  <WeightBar routing={a.routing} />
                )}
              </td>
              <td>
                {writer && editing !== a.name && !(running && running.alias === a.name) && (
                  <button type="button" onClick={() => setEditing(a.name)}>
                    Edit weights of {a.name}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>

      <h2>Rollouts</h2>
      {running && (
        <RolloutProgress
          rollout={running}
          writer={writer}
          onCancel={async () => {
            setError(undefined);
            try {
              await api.send("POST", `${base}/rollouts/${seg(running.id)}/cancel`, {});
              changed(`Rollout to v${running.to} cancelled; ${running.alias} is back on v${running.from}.`);
            } catch (e) {
              fail(e);
            }
          }}
        />
      )}
      {writer && !running && versions.length > 1 && (
        <RolloutForm
          aliases={aliases.map((a) => a.name)}
          versions={versions.map((v) => v.version)}
          onStart={async (body) => {
            setError(undefined);
            try {
              await api.send("POST", `${base}/rollouts`, body);
              changed(`Rollout to v${body.to} started.`);
            } catch (e) {
              fail(e);
            }
          }}
        />
      )}
      {rollouts.filter((r) => r !== running).length > 0 && (
        <table class="grid" data-testid="rollouts">
          <thead>
            <tr>
              <th>Alias</th>
              <th>From → to</th>
              <th>Steps</th>
              <th>Outcome</th>
              <th>Last error rate</th>
              <th>Finished</th>
            </tr>
          </thead>
          <tbody>
            {rollouts
              .filter((r) => r !== running)
              .map((r) => (
                <tr key={r.id}>
                  <td>{r.alias}</td>
                  <td>
                    v{r.from} → v{r.to}
                  </td>
                  <td>{r.steps.join(" → ")}%</td>
                  <td class={r.status === "rolled_back" ? "bad" : ""}>
                    {r.status.replace("_", " ")}
                    {r.reason ? `: ${r.reason}` : ""}
                  </td>
                  <td>{r.lastErrorRate === null ? "–" : fmtPct(r.lastErrorRate)}</td>
                  <td>{fmtTime(r.finishedAt)}</td>
                </tr>
              ))}
          </tbody>
        </table>
      )}
      {!running && rollouts.length === 0 && <p class="muted small">No rollouts yet.</p>}

      <h2>Versions</h2>
      <table class="grid" data-testid="versions">
        <thead>
          <tr>
            <th>Version</th>
            <th>Created</th>
            <th>By</th>
            <th>Changes</th>
            <th>Source</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {versions.map((v) => (
            <tr key={v.version}>
              <td>
                v{v.version} {liveVersions.has(v.version) && <span class="tag live">live</span>}
              </td>
              <td>{fmtTime(v.createdAt)}</td>
              <td>{v.createdBy}</td>
              <td class="small">{describeChanges(v.changes)}</td>
              <td>
                <code>{v.sourceDigest.slice(0, 12)}</code>
              </td>
              <td>
                {writer && !liveVersions.has(v.version) && (
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

/** An alias's split as a bar, one segment per version (text too, for screen readers and copy). */
export function WeightBar({ routing }: { routing: Alias["routing"] }) {
  return (
    <div class="weights">
      <div class="weight-bar" aria-hidden="true">
        {routing.map((r, i) => (
          <span key={r.version} class={`seg s${i % 4}`} style={{ width: `${r.weight}%` }} />
        ))}
      </div>
      <span>{routing.map((r) => `v${r.version} ${r.weight}%`).join(", ")}</span>
    </div>
  );
}

/** A version's `changes` (computed at deploy against the version before it) in a few words. */
function describeChanges(changes: Version["changes"]): string {
  if (!changes) return "–";
  if (changes.previousVersion === null) return "first version";
  const parts: string[] = [];
  if (changes.sourceChanged) parts.push("code");
  if (changes.runtimeChanged) parts.push("runtime");
  if (changes.configKeys.length) parts.push(`kumo.json: ${changes.configKeys.join(", ")}`);
  return parts.length ? `${parts.join(" · ")} (since v${changes.previousVersion})` : "no changes";
}

/** Reloads every few seconds while something moves by itself (a running rollout). */
function useRefreshWhile(active: boolean, reload: () => void) {
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(reload, ROLLOUT_REFRESH_MS);
    return () => clearInterval(timer);
  }, [active, reload]);
}
