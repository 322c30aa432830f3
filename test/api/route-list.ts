import type { FastifyInstance } from "fastify";

const ALL_METHODS = ["DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"];

/**
 * Every route the app registered, as "METHOD /path" (HEAD routes fastify adds for GETs left out;
 * a route registered for every method is "ALL /path"). Parsed from `printRoutes`, whose tree shows
 * each segment indented under its parent.
 */
export function registeredRoutes(app: FastifyInstance): string[] {
  const tree = app.printRoutes({ commonPrefix: false });
  const stack: string[] = [];
  const routes: string[] = [];
  for (const line of tree.split("\n")) {
    const match = /── (.+?) \(([A-Z, ]+)\)$/.exec(line);
    if (!match?.[1] || !match[2]) continue;
    const depth = (line.indexOf("── ") - 1) / 4;
    stack.length = depth;
    const parent = stack.at(-1) ?? "";
    // printRoutes shows a wildcard child without the slash that separates it from its parent.
    const path = match[1] === "*" && !parent.endsWith("/") ? `${parent}/*` : parent + match[1];
    stack.push(path);
    const methods = match[2].split(", ").filter((m) => m !== "HEAD");
    if (ALL_METHODS.every((m) => methods.includes(m))) routes.push(`ALL ${path}`);
    else for (const m of methods) routes.push(`${m} ${path}`);
  }
  return [...new Set(routes)].sort();
}
