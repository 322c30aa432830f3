import { useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { type ApiError, asApiError, seg } from "../api.ts";
import { Confirm, ErrorNote, fmtTime, Loading } from "../components.tsx";
import { useSession } from "../session.ts";
import type { ApiKey, Page, Role } from "../types.ts";
import { useLoad } from "../use-load.ts";

const ROLES: { role: Exclude<Role, "platform-admin">; what: string }[] = [
  { role: "viewer", what: "reads everything, changes nothing" },
  { role: "invoker", what: "invokes functions, fires triggers, publishes events" },
  { role: "developer", what: "deploys, rolls back, sets env and secrets" },
  { role: "admin", what: "all of that, and manages keys" },
];

/**
 * A tenant's API keys (tenant admins; the platform admin through /keys?tenant=…): issue one (its
 * value is shown once, here, and never again), see when each was last used, revoke.
 */
export function Keys() {
  const { api, who } = useSession();
  const location = useLocation();
  const tenant = who.tenant?.name ?? location.query.tenant ?? "";
  const base = `/v1/tenants/${seg(tenant)}/api-keys`;
  const list = useLoad((signal) => api.get<Page<ApiKey>>(`${base}?limit=500`, signal), [api, base]);
  const [role, setRole] = useState<Exclude<Role, "platform-admin">>("developer");
  const [name, setName] = useState("");
  const [issued, setIssued] = useState<{ name: string; key: string }>();
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const [error, setError] = useState<ApiError>();
  const fail = (e: unknown) => setError(asApiError(e));
  if (!tenant) return <p class="muted">Pick a tenant on the Tenants page.</p>;
  const issue = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    try {
      const created = await api.send<ApiKey & { key: string }>("POST", base, {
        role,
        ...(name.trim() ? { name: name.trim() } : {}),
      });
      setIssued({ name: created.name, key: created.key });
      setName("");
      list.reload();
    } catch (e) {
      fail(e);
    }
  };
  const revoke = async () => {
    if (!revoking) return;
    const target = revoking;
    setRevoking(null);
    setError(undefined);
    try {
      await api.send("DELETE", `${base}/${seg(target.id)}`);
      list.reload();
    } catch (e) {
      fail(e);
    }
  };
  return (
    <section>
      <h1>
        API keys <span class="muted small">{tenant}</span>
      </h1>
      <ErrorNote error={error} />
      {issued && (
        <div class="panel issued" role="status" data-testid="issued-key">
          <p>
            Key <b>{issued.name}</b> issued. Copy it now: it is not shown again.
          </p>
          <code class="secret-value">{issued.key}</code>{" "}
          <button type="button" onClick={() => void navigator.clipboard?.writeText(issued.key)}>
            Copy
          </button>{" "}
          <button type="button" onClick={() => setIssued(undefined)}>
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
        <table class="grid" data-testid="keys">
          <thead>
            <tr>
              <th>Name</th>
              <th>Role</th>
              <th>Created</th>
              <th>Last used</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((k) => (
              <tr key={k.id} class={k.revokedAt ? "muted" : ""}>
                <td>
                  {k.name} <code class="small">{k.id}</code>
                  {who.keyId === k.id && <span class="tag">this key</span>}
                </td>
                <td>{k.role}</td>
                <td>{fmtTime(k.createdAt)}</td>
                <td>{fmtTime(k.lastUsedAt)}</td>
                <td>
                  {k.revokedAt ? (
                    `revoked ${fmtTime(k.revokedAt)}`
                  ) : (
                    <button type="button" onClick={() => setRevoking(k)}>
                      Revoke {k.name}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form class="stack narrow" onSubmit={issue}>
        <h2>Issue a key</h2>
        <fieldset>
          <legend>Role</legend>
          {ROLES.map((r) => (
            <label key={r.role} class="choice">
              <input
                type="radio"
                name="role"
                value={r.role}
                checked={role === r.role}
                onChange={() => setRole(r.role)}
              />{" "}
              <b>{r.role}</b> <span class="muted small">{r.what}</span>
            </label>
          ))}
        </fieldset>
        <label for="key-name">Name (optional)</label>
        <input id="key-name" maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <div>
          <button type="submit" class="primary">
            Issue key
          </button>
        </div>
      </form>
      <Confirm
        open={revoking !== null}
        title={`Revoke ${revoking?.name ?? ""}?`}
        confirmLabel="Revoke"
        onConfirm={() => void revoke()}
        onCancel={() => setRevoking(null)}
      >
        <p>
          Requests with this key fail from now on
          {who.keyId === revoking?.id ? ", including this console's" : ""}.
        </p>
      </Confirm>
    </section>
  );
}
