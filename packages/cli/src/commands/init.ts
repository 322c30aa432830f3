import { access, mkdir, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import {
  FUNCTION_TEMPLATES,
  functionTemplate,
  RESOURCE_NAME,
  RUNTIME_NAMES,
  RUNTIMES,
  type RuntimeName,
} from "@kumo/core";
import type { Command, CommandContext } from "../command.ts";
import { usageError } from "../errors.ts";
import { filesOfTemplate, templateFor } from "../init-templates.ts";

const TEMPLATE_IDS = FUNCTION_TEMPLATES.map((t) => t.id);

export const initCommand: Command = {
  name: "init",
  summary: "Create a new function from a template",
  help: `Usage: kumo init <name> --runtime <${RUNTIMES.join("|")}> [dir] [--force]
       kumo init <name> --template <${TEMPLATE_IDS.join("|")}> [dir] [--force]
       kumo init --list

Writes kumo.json and a handler into dir (default: ./<name>). Existing files are kept unless
--force is given.

  --runtime R    a minimal handler answering {"message": "Hello, world!"}:
                 edge, node, bun, deno: export default { fetch(request, env, ctx) }
                 python: def handler(event, context) · go: func Handle(w, r) in package function
                 container: a Dockerfile whose server listens on $PORT
                 or a pinned version: ${RUNTIME_NAMES.filter((r) => !(RUNTIMES as readonly string[]).includes(r)).join(", ")}
  --template T   a complete edge function with a sample to run with \`kumo test\` (the console's
                 templates gallery offers the same ones); \`kumo init --list\` describes them
  --list         list the templates
  --force        overwrite existing files`,
  options: {
    runtime: { type: "string", short: "r" },
    template: { type: "string", short: "t" },
    list: { type: "boolean" },
    force: { type: "boolean" },
  },
  async run(context, args) {
    if (args.flag("list")) {
      args.atMost(0);
      listTemplates(context);
      return;
    }
    args.atMost(2);
    const name = args.required(0, "function name (kumo init <name> --runtime <runtime>)");
    if (!RESOURCE_NAME.test(name)) {
      throw usageError(
        `invalid function name "${name}": use lowercase letters, digits and '-', starting with a letter (at most 63)`,
      );
    }
    const runtimeFlag = args.string("runtime");
    const templateId = args.string("template");
    if (runtimeFlag !== undefined && templateId !== undefined) {
      throw usageError("pass --runtime or --template, not both (templates are edge functions)");
    }
    const dir = resolve(context.io.cwd, args.optional(1) ?? name);
    let runtime: RuntimeName;
    let files: Record<string, string>;
    let sample: string | undefined;
    if (templateId !== undefined) {
      const template = functionTemplate(templateId);
      if (template === undefined) {
        throw usageError(
          `unknown template "${templateId}": expected one of ${TEMPLATE_IDS.join(", ")}`,
          "run `kumo init --list` to see what each does",
        );
      }
      runtime = template.runtime;
      files = filesOfTemplate(name, template);
      const flag = `--${template.sample.kind}`;
      const type = template.sample.eventType ? ` --type ${template.sample.eventType}` : "";
      sample = `${flag} ${join(relative(context.io.cwd, dir) || ".", template.sample.file)}${type}`;
    } else {
      if (runtimeFlag === undefined) {
        throw usageError(
          `missing --runtime (one of ${RUNTIMES.join(", ")}) or --template (one of ${TEMPLATE_IDS.join(", ")})`,
        );
      }
      if (!isRuntime(runtimeFlag))
        throw usageError(`unknown runtime "${runtimeFlag}": expected one of ${RUNTIME_NAMES.join(", ")}`);
      runtime = runtimeFlag;
      files = templateFor(name, runtime);
    }

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
    const result = {
      name,
      runtime,
      dir,
      files: Object.keys(files),
      ...(templateId ? { template: templateId } : {}),
    };
    context.out.result(result, () => {
      const what = templateId
        ? `${runtime} function "${name}" from template ${templateId}`
        : `${runtime} function "${name}"`;
      context.out.line(`Created ${what} in ${shown}:`);
      for (const path of Object.keys(files)) context.out.line(`  ${path}`);
      context.out.line();
      context.out.line("Next:");
      if (sample !== undefined) context.out.line(`  kumo test ${shown} ${sample}`);
      context.out.line(`  kumo dev ${shown}`);
      context.out.line(`  kumo deploy ${shown}`);
      context.out.line(`  kumo invoke ${name}`);
    });
  },
};

function listTemplates(context: CommandContext): void {
  const rows = FUNCTION_TEMPLATES.map((t) => ({
    id: t.id,
    title: t.title,
    description: t.description,
    runtime: t.runtime,
  }));
  context.out.result({ templates: rows }, () => {
    context.out.table(rows, [
      { header: "TEMPLATE", value: (row) => row.id },
      { header: "DESCRIPTION", value: (row) => row.description },
    ]);
    context.out.line();
    context.out.line("Create one with: kumo init <name> --template <template>");
  });
}

function isRuntime(value: string): value is RuntimeName {
  return (RUNTIME_NAMES as readonly string[]).includes(value);
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
