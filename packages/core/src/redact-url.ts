/**
 * A URL fit for logs and messages: a password (a git token) in it becomes "***", and so does a user
 * name with no password (`https://<token>@host/...` is how tokens are often given).
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    else if (parsed.username) parsed.username = "***";
    return parsed.toString();
  } catch {
    return url;
  }
}
