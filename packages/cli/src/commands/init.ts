import { access, mkdir, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { RESOURCE_NAME, RUNTIMES, type Runtime } from "@kumo/core";
import type { Command } from "../command.ts";
import { usageError } from "../errors.ts";
import { templateFor } from "../init-templates.ts";

export const initCommand: Command = {
  name: "init",
  summary: "Create a new function from a template",
  help: `Usage: kumo init <name> --runtime <${RUNTIMES.join("|")}> [dir] [--force]

Writes kumo.json and a handler that answers {"message": "Hello, world!"} into dir
(default: ./<name>). Existing files are kept unless --force is given.

  --runtime R   edge, node, bun, deno: export default { fetch(request, env, ctx) }
                python: def handler(event, context) · go: func Handle(w, r) in package function
                container: a Dockerfile whose server listens on $PORT
  --force       overwrite existing files`,
  options: { runtime: { type: "string", short: "r" }, force: { type: "boolean" } },
  async run(context, args) {
    args.atMost(2);
    const name = args.required(0, "function name (kumo init <name> --runtime <runtime>)");
    if (!RESOURCE_NAME.test(name)) {
      throw usageError(
        `invalid function name "${name}": use lowercase letters, digits and '-', starting with a letter (at most 63)`,
      );
    }
    const runtime = args.string("runtime");
    if (runtime === undefined) throw usageError(`missing --runtime (one of ${RUNTIMES.join(", ")})`);
    if (!isRuntime(runtime))
      throw usageError(`unknown runtime "${runtime}": expected one of ${RUNTIMES.join(", ")}`);
    const dir = resolve(context.io.cwd, args.optional(1) ?? name);

    const files = templateFor(name, runtime);
    if (!args.flag("force")) {
      const existing = [];
      for (const path of Object.keys(files)) if (await exists(join(dir, path))) existing.push(path);
      if (existing.length > 0) {
        throw usageError(`${dir} already has ${existing.join(", ")}`, "pass --force to overwrite");
      }
    }
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), content);
    }

    const shown = relative(context.io.cwd, dir) || ".";
    context.out.result({ name, runtime, dir, files: Object.keys(files) }, () => {
      context.out.line(`Created ${runtime} function "${name}" in ${shown}:`);
      for (const path of Object.keys(files)) context.out.line(`  ${path}`);
      context.out.line();
      context.out.line("Next:");
      context.out.line(`  kumo deploy ${shown}`);
      context.out.line(`  kumo invoke ${name}`);
    });
  },
};

function isRuntime(value: string): value is Runtime {
  return (RUNTIMES as readonly string[]).includes(value);
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
