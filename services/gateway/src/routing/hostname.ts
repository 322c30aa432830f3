import { isIP } from "node:net";

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Why a hostname cannot be a tenant's custom domain, or undefined when it can: lowercase DNS labels,
 * at least two of them, no IP address, and nothing under the platform's own apps domain (those names
 * are the platform's to hand out).
 */
export function hostnameProblem(hostname: string, appsDomain: string): string | undefined {
  if (hostname.length === 0 || hostname.length > 253) return "must be 1 to 253 characters";
  if (hostname !== hostname.toLowerCase()) return "must be lowercase";
  if (isIP(hostname) !== 0 || hostname.startsWith("[")) return "must be a DNS name, not an IP address";
  const labels = hostname.split(".");
  if (labels.length < 2) return "must have at least two labels, such as api.example.com";
  for (const label of labels) {
    if (!LABEL.test(label))
      return `label "${label}" must be 1 to 63 letters, digits or '-', not starting or ending with '-'`;
  }
  if (/^[0-9]+$/.test(labels.at(-1) ?? "")) return "the top-level label cannot be numeric";
  if (hostname === appsDomain || hostname.endsWith(`.${appsDomain}`))
    return `names under the platform's apps domain ${appsDomain} are not custom domains`;
  return undefined;
}

/** The hostname of a Host header: lowercased, port and trailing dot removed. */
export function hostOf(header: string | undefined): string {
  if (!header) return "";
  let host = header.toLowerCase();
  if (host.startsWith("[")) return host.slice(0, host.indexOf("]") + 1);
  const colon = host.lastIndexOf(":");
  if (colon >= 0) host = host.slice(0, colon);
  return host.endsWith(".") ? host.slice(0, -1) : host;
}
