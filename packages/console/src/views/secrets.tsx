import { useState } from "preact/hooks";
import { type ApiError, asApiError, seg } from "../api.ts";
import { ErrorNote, fmtTime, Loading } from "../components.tsx";
import { canWrite, useSession } from "../session.ts";
import type { Page, Secret } from "../types.ts";
import { useLoad } from "../use-load.ts";

/** Tenant secrets: names and versions only. A value goes in and is never shown again. */
export function Secrets() {
  const { api, who } = useSession();
  const list = useLoad((signal) => api.get<Page<Secret>>("/v1/secrets", signal), [api]);
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [error, setError] = useState<ApiError>();
  const [note, setNote] = useState("");
  const save = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    try {
      await api.send("PUT", `/v1/secrets/${seg(name)}`, { value });
      setNote(`Secret ${name} saved.`);
      setName("");
      setValue("");
      list.reload();
    } catch (e) {
      setError(asApiError(e));
    }
  };
  return (
    <section>
      <h1>Secrets</h1>
      <p class="muted">
        Functions read a secret as an env var when kumo.json lists it under "secrets". Values are encrypted at
        rest and never shown.
      </p>
      {!list.data ? (
        list.error ? (
          <ErrorNote error={list.error} />
        ) : (
          <Loading />
        )
      ) : (
        <table class="grid" data-testid="secrets">
          <tbody>
            {list.data.items.map((s) => (
              <tr key={s.name}>
                <td>
                  <code>{s.name}</code>
                </td>
                <td>v{s.version}</td>
                <td>{fmtTime(s.updatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {canWrite(who.role) && (
        <form class="stack narrow" onSubmit={save}>
          <h2>Set or rotate a secret</h2>
          <label for="secret-name">Name</label>
          <input
            id="secret-name"
            required
            pattern="[A-Z_][A-Z0-9_]*"
            title="UPPER_CASE letters, digits and underscores"
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
          <label for="secret-value">Value</label>
          <input
            id="secret-value"
            type="password"
            autocomplete="off"
            required
            value={value}
            onInput={(e) => setValue(e.currentTarget.value)}
          />
          <div>
            <button type="submit" class="primary">
              Save secret
            </button>
          </div>
          {note && <p role="status">{note}</p>}
          <ErrorNote error={error} />
        </form>
      )}
    </section>
  );
}
