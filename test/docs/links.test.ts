import { existsSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";
import { slugify } from "../../docs/.vitepress/slugify.ts";
import { DOCS_DIR, markdownPages } from "./doc-blocks.ts";

/** Headings' anchors as the site (and a code host) makes them, plus explicit `{#id}` ones. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  let fence = false;
  for (const line of markdown.split("\n")) {
    if (/^(`{3,}|~{3,})/.test(line)) fence = !fence;
    const heading = fence ? null : /^#{1,6}\s+(.+?)\s*$/.exec(line);
    if (!heading?.[1]) continue;
    const explicit = /\{#([^}]+)\}$/.exec(heading[1]);
    anchors.add(explicit?.[1] ?? slugify(heading[1].replace(/`/g, "")));
  }
  return anchors;
}

/** Markdown links `[text](target)` outside code, with their line numbers. */
function linksOf(markdown: string): { target: string; line: number }[] {
  const links: { target: string; line: number }[] = [];
  let fence = false;
  markdown.split("\n").forEach((line, index) => {
    if (/^(`{3,}|~{3,})/.test(line)) fence = !fence;
    if (fence) return;
    const prose = line.replace(/`[^`]*`/g, "");
    for (const m of prose.matchAll(/\]\(([^)\s]+)\)/g))
      if (m[1]) links.push({ target: m[1], line: index + 1 });
  });
  return links;
}

describe("docs - links", () => {
  const pages = markdownPages();

  it("docs links - every relative link names a page of the guide and an anchor it has", () => {
    const problems: string[] = [];
    let checked = 0;
    for (const page of pages) {
      for (const { target, line } of linksOf(readFileSync(join(DOCS_DIR, page), "utf8"))) {
        if (/^[a-z]+:/.test(target)) continue;
        checked++;
        const [file = "", anchor] = target.split("#");
        const path = file === "" ? page : normalize(join(dirname(page), file));
        const where = `${page}:${line} → ${target}`;
        if (path.startsWith("..")) problems.push(`${where}: leaves docs/ (not on the site)`);
        else if (!path.endsWith(".md"))
          problems.push(`${where}: link to the .md file, so it works on a code host too`);
        else if (!existsSync(join(DOCS_DIR, path))) problems.push(`${where}: no such page`);
        else if (anchor && !anchorsOf(readFileSync(join(DOCS_DIR, path), "utf8")).has(anchor)) {
          problems.push(`${where}: no heading with anchor #${anchor}`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(20);
  });

  it("docs links - the anchor rule matches a code host's (FN_006 → fn_006, kumo.json → kumojson)", () => {
    expect(slugify("FN_006")).toBe("fn_006");
    expect(slugify("kumo.json")).toBe("kumojson");
    expect(slugify("Event, queue and database triggers")).toBe("event-queue-and-database-triggers");
  });
});
