import { useState } from "preact/hooks";
import { type ApiError, asApiError, seg } from "../api.ts";
import { ErrorNote, fmtTime, Loading } from "../components.tsx";
import { useSession } from "../session.ts";
import type { Page, Tenant } from "../types.ts";
import { useLoad } from "../use-load.ts";

/** The platform admin's tenants: create one (its first admin key shown once), set log retention, open its keys. */
export function Tenants() {
  const { api } = useSession();
  const list = useLoad((signal) => api.get<Page<Tenant>>("/v1/tenants?limit=500", signal), [api]);
  const [name, setName] = useState("");
  const [created, setCreated] = useState<{ tenant: string; key: string }>();
  const [error, setError] = useState<ApiError>();
  const fail = (e: unknown) => setError(asApiError(e));
  const create = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    try {
      const res = await api.send<{ tenant: Tenant; apiKey: { key: string } }>("POST", "/v1/tenants", {
        name,
      });
      setCreated({ tenant: res.tenant.name, key: res.apiKey.key });
      setName("");
      list.reload();
    } catch (e) {
      fail(e);
    }
  };
  const setRetention = async (tenant: Tenant, value: string) => {
    setError(undefined);
    try {
      await api.send("PATCH", `/v1/tenants/${seg(tenant.name)}`, {
        logRetentionDays: value.trim() === "" ? null : Number(value),
      });
      list.reload();
    } catch (e) {
      fail(e);
    }
  };
  return (
    <section>
      <h1>Tenants</h1>
      <ErrorNote error={error} />
      {created && (
        <div class="panel issued" role="status" data-testid="tenant-created">
          <p>
            Tenant <b>{created.tenant}</b> created. Its first admin key (shown once):
          </p>
          <code class="secret-value">{created.key}</code>{" "}
          <button type="button" onClick={() => setCreated(undefined)}>
            Done
          </button>
        </div>
      )}
      {!list.data ? (
        list.error ? (
          <ErrorNote error={list.error} />
        ) : (
          <Loading />
        )
      ) : (
        <table class="grid" data-testid="tenants">
          <thead>
            <tr>
              <th>Name</th>
              <th>Created</th>
              <th>Log retention (days)</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((t) => (
              <tr key={t.id}>
                <td>{t.name}</td>
                <td>{fmtTime(t.createdAt)}</td>
                <td>
                  <input
                    type="number"
                    min={1}
                    max={3650}
                    placeholder="default"
                    aria-label={`Log retention of ${t.name} in days`}
                    value={t.logRetentionDays ?? ""}
                    onChange={(e) => void setRetention(t, e.currentTarget.value)}
                  />
                </td>
                <td>
                  <a href={`/keys?tenant=${encodeURIComponent(t.name)}`}>Keys of {t.name}</a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form class="stack narrow" onSubmit={create}>
        <h2>New tenant</h2>
        <label for="tenant-name">Name</label>
        <input
          id="tenant-name"
          required
          pattern="[a-z][a-z0-9\-]{0,62}"
          title="lowercase letters, digits and dashes, starting with a letter"
          value={name}
          onInput={(e) => setName(e.currentTarget.value)}
        />
        <div>
          <button type="submit" class="primary">
            Create tenant
          </button>
        </div>
      </form>
    </section>
  );
}
