/** Never uploaded, whatever .kumoignore says: dependencies are installed by the build, not shipped. */
export const ALWAYS_IGNORED = ["node_modules/", ".git/", ".kumo/"] as const;

interface Rule {
  regex: RegExp;
  negated: boolean;
  dirOnly: boolean;
}

/**
 * `.kumoignore`: one glob per line, a subset of .gitignore. `#` comments, `!` re-includes, a
 * trailing `/` matches directories only, a `/` at the start or in the middle anchors the pattern to
 * the function's root (otherwise it matches at any depth); `*` and `?` stay within a path segment,
 * `**` crosses segments. The last matching line wins.
 */
export class IgnoreRules {
  readonly #rules: Rule[];

  constructor(patterns: readonly string[]) {
    this.#rules = patterns.flatMap((line) => {
      const rule = compile(line);
      return rule === null ? [] : [rule];
    });
  }

  /** The built-in rules plus the lines of a .kumoignore file. */
  static fromFile(text: string | null): IgnoreRules {
    return new IgnoreRules([...ALWAYS_IGNORED, ...(text ?? "").split(/\r?\n/)]);
  }

  /** Whether a path relative to the root (with `/` separators) is left out. */
  ignores(path: string, isDirectory: boolean): boolean {
    let ignored = false;
    for (const rule of this.#rules) {
      if (rule.dirOnly && !isDirectory) continue;
      if (rule.regex.test(path)) ignored = !rule.negated;
    }
    return ignored;
  }
}

function compile(line: string): Rule | null {
  let pattern = line.trim();
  if (pattern === "" || pattern.startsWith("#")) return null;
  const negated = pattern.startsWith("!");
  if (negated) pattern = pattern.slice(1);
  const dirOnly = pattern.endsWith("/");
  pattern = pattern.replace(/\/+$/, "");
  const anchored = pattern.includes("/");
  pattern = pattern.replace(/^\/+/, "");
  if (pattern === "") return null;
  const body = globToRegex(pattern);
  const regex = new RegExp(anchored ? `^${body}$` : `^(?:.*/)?${body}$`);
  return { regex, negated, dirOnly };
}

function globToRegex(glob: string): string {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i] ?? "";
    if (char === "*") {
      if (glob[i + 1] === "*") {
        const slashAfter = glob[i + 2] === "/";
        out += slashAfter ? "(?:.*/)?" : ".*";
        i += slashAfter ? 2 : 1;
      } else {
        out += "[^/]*";
      }
    } else if (char === "?") {
      out += "[^/]";
    } else {
      out += char.replace(/[.+^${}()|[\]\\]/g, "\\$&");
    }
  }
  return out;
}
