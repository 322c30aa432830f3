import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

export const DOCS_DIR = join(import.meta.dirname, "../../docs");

/**
 * A fenced code block of the guide that the doc tests execute. The marker is an HTML comment on the
 * line right before the fence, invisible on the site and on a code host:
 * - `<!-- test: file <path> -->`: the block is written to `<path>` in the page's working directory;
 * - `<!-- test: run -->`: each line is a command run in order (`kumo …` in-process against a real
 *   gateway, `curl <url>` through it); a `# expect: <text>` line after a command requires that text
 *   in its output;
 * - `<!-- test: kumo.json -->`: the block must be a valid kumo.json.
 */
export type DocBlock =
  | { kind: "file"; page: string; line: number; path: string; content: string }
  | { kind: "run"; page: string; line: number; content: string }
  | { kind: "kumo.json"; page: string; line: number; content: string };

/** Every Markdown page under docs/ (relative paths), outside node_modules and the build output. */
export function markdownPages(dir = DOCS_DIR): string[] {
  const pages: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const path = relative(DOCS_DIR, join(entry.parentPath, entry.name));
    if (!entry.isFile() || !entry.name.endsWith(".md")) continue;
    if (/(^|\/)(node_modules|\.vitepress)\//.test(path)) continue;
    pages.push(path);
  }
  return pages.sort();
}

const MARKER = /^<!--\s*test:\s*(file\s+(\S+)|run|kumo\.json)\s*-->$/;
const FENCE = /^(`{3,}|~{3,})/;

/** The marked blocks of one page, in document order; a marker not followed by a fence is an error. */
export function docBlocks(page: string): DocBlock[] {
  const lines = readFileSync(join(DOCS_DIR, page), "utf8").split("\n");
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const marker = MARKER.exec((lines[i] ?? "").trim());
    if (!marker) continue;
    const fence = FENCE.exec(lines[i + 1] ?? "")?.[1];
    if (!fence) throw new Error(`${page}:${i + 1}: a test marker must be followed by a fenced code block`);
    const end = lines.findIndex((l, j) => j > i + 1 && l.startsWith(fence));
    if (end < 0) throw new Error(`${page}:${i + 2}: unclosed code block`);
    const content = `${lines.slice(i + 2, end).join("\n")}\n`;
    const line = i + 2;
    if (marker[2]) blocks.push({ kind: "file", page, line, path: marker[2], content });
    else if (marker[1] === "run") blocks.push({ kind: "run", page, line, content });
    else blocks.push({ kind: "kumo.json", page, line, content });
    i = end;
  }
  return blocks;
}

/** One command of a `run` block, with the text its output must contain, if any. */
export interface DocCommand {
  argv: string[];
  expect: string[];
  line: number;
}

/** The commands of a `run` block: comments dropped, `# expect:` lines attached to the command before. */
export function commandsOf(block: DocBlock): DocCommand[] {
  const commands: DocCommand[] = [];
  block.content.split("\n").forEach((raw, index) => {
    const text = raw.trim();
    const expect = /^#\s*expect:\s*(.+)$/.exec(text)?.[1];
    if (expect !== undefined) {
      const last = commands.at(-1);
      if (!last) throw new Error(`${block.page}:${block.line + index + 1}: "# expect:" before any command`);
      last.expect.push(expect.trim());
      return;
    }
    if (text === "" || text.startsWith("#")) return;
    commands.push({
      argv: shellWords(text.replace(/\s+#\s.*$/, "")),
      expect: [],
      line: block.line + index + 1,
    });
  });
  return commands;
}

/** Splits a command line as a POSIX shell would for plain words and quotes (no expansions). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g)) {
    words.push(m[1] ?? (m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : (m[3] ?? "")));
  }
  return words;
}
