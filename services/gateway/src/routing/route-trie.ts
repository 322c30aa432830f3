import type { PatternSegment } from "./route-pattern.ts";

/** What a match returns: the route's value, its params by name, and the path the wildcard matched. */
export interface RouteMatch<T> {
  value: T;
  params: Record<string, string>;
  /** What `*` matched, without a leading "/" ("" when the route has no wildcard or it matched nothing). */
  rest: string;
}

interface Leaf<T> {
  value: T;
  paramNames: string[];
}

class TrieNode<T> {
  readonly statics = new Map<string, TrieNode<T>>();
  param: TrieNode<T> | undefined;
  /** Routes ending here, by method ("ANY" included). */
  readonly leaves = new Map<string, Leaf<T>>();
  /** Routes ending in "*" here, by method. */
  readonly wildcards = new Map<string, Leaf<T>>();
}

/**
 * A segment trie of one host's routes. At every segment a literal beats a parameter, which beats the
 * wildcard; a branch that matches the path but not the method gives way to the next, less specific
 * one. Matching costs one map lookup per segment plus backtracking only where branches overlap.
 */
export class RouteTrie<T> {
  readonly #root = new TrieNode<T>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Adds a route; a later add with the same method and pattern replaces the earlier one. */
  add(method: string, segments: readonly PatternSegment[], value: T): void {
    let node = this.#root;
    const paramNames: string[] = [];
    for (const segment of segments) {
      if (segment.kind === "wildcard") {
        node.wildcards.set(method, { value, paramNames });
        this.#size++;
        return;
      }
      if (segment.kind === "param") {
        paramNames.push(segment.name);
        node.param ??= new TrieNode<T>();
        node = node.param;
      } else {
        let next = node.statics.get(segment.text);
        if (!next) {
          next = new TrieNode<T>();
          node.statics.set(segment.text, next);
        }
        node = next;
      }
    }
    node.leaves.set(method, { value, paramNames });
    this.#size++;
  }

  /** Matches a request path (with or without a query string) for a method. */
  match(method: string, path: string): RouteMatch<T> | undefined {
    const q = path.indexOf("?");
    const raw = (q < 0 ? path : path.slice(0, q)).split("/").filter((p) => p.length > 0);
    const decoded = raw.map(decodeSegment);
    const captured: string[] = [];
    return this.#walk(this.#root, method.toUpperCase(), raw, decoded, 0, captured);
  }

  #walk(
    node: TrieNode<T>,
    method: string,
    raw: readonly string[],
    decoded: readonly string[],
    i: number,
    captured: string[],
  ): RouteMatch<T> | undefined {
    if (i === raw.length) {
      const leaf = pickMethod(node.leaves, method);
      if (leaf) return toMatch(leaf, captured, "");
    } else {
      const segment = decoded[i] ?? "";
      const next = node.statics.get(segment);
      if (next) {
        const found = this.#walk(next, method, raw, decoded, i + 1, captured);
        if (found) return found;
      }
      if (node.param) {
        captured.push(segment);
        const found = this.#walk(node.param, method, raw, decoded, i + 1, captured);
        if (found) return found;
        captured.pop();
      }
    }
    const wildcard = pickMethod(node.wildcards, method);
    return wildcard ? toMatch(wildcard, captured, raw.slice(i).join("/")) : undefined;
  }
}

function pickMethod<T>(leaves: Map<string, Leaf<T>>, method: string): Leaf<T> | undefined {
  if (leaves.size === 0) return undefined;
  return leaves.get(method) ?? (method === "HEAD" ? leaves.get("GET") : undefined) ?? leaves.get("ANY");
}

function toMatch<T>(leaf: Leaf<T>, captured: readonly string[], rest: string): RouteMatch<T> {
  const params: Record<string, string> = {};
  leaf.paramNames.forEach((name, i) => {
    params[name] = captured[i] ?? "";
  });
  return { value: leaf.value, params, rest };
}

function decodeSegment(segment: string): string {
  if (!segment.includes("%")) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
