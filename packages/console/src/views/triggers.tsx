import { useState } from "preact/hooks";
import { ApiError, seg } from "../api.ts";
import { ErrorNote, fmtTime, Loading } from "../components.tsx";
import { canWrite, useSession } from "../session.ts";
import type { FunctionInfo, Page, Trigger } from "../types.ts";
import { useLoad } from "../use-load.ts";

/** The function's triggers with their state; pause, resume and fire now. */
export function Triggers({ fn }: { fn: FunctionInfo }) {
  const { api, who } = useSession();
  const base = `/v1/functions/${seg(fn.name)}/triggers`;
  const list = useLoad((signal) => api.get<Page<Trigger>>(base, signal), [api, base]);
  const [error, setError] = useState<ApiError>();
  const [note, setNote] = useState("");
  const act = async (run: () => Promise<unknown>, done: string) => {
    setError(undefined);
    try {
      await run();
      setNote(done);
      list.reload();
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(0, "CLIENT", String(e)));
    }
  };
  if (!list.data) return list.error ? <ErrorNote error={list.error} /> : <Loading />;
  const writer = canWrite(who.role);
  return (
    <div>
      <ErrorNote error={error} />
      {note && <p role="status">{note}</p>}
      {list.data.items.length === 0 && (
        <p class="muted">No triggers. Declare them under "triggers" in kumo.json and deploy.</p>
      )}
      <table class="grid" data-testid="triggers">
        <tbody>
          {list.data.items.map((t) => (
            <tr key={t.id}>
              <td>{t.type}</td>
              <td>
                <code>{t.schedule ?? t.eventType ?? "–"}</code> {t.timezone ?? ""}
              </td>
              <td>{t.paused ? "paused" : `next ${fmtTime(t.state.nextFireAt)}`}</td>
              <td>last {t.state.lastStatus ?? "–"}</td>
              <td>
                {writer && (
                  <button
                    type="button"
                    onClick={() =>
                      void act(
                        () => api.send("PATCH", `${base}/${seg(t.id)}`, { paused: !t.paused }),
                        t.paused ? "Resumed." : "Paused.",
                      )
                    }
                  >
                    {t.paused ? "Resume" : "Pause"}
                  </button>
                )}{" "}
                {writer && (
                  <button
                    type="button"
                    onClick={() =>
                      void act(() => api.send("POST", `${base}/${seg(t.id)}/fire`, {}), "Fired.")
                    }
                  >
                    Fire now
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
