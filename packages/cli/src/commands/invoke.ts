import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { isErrorCode, KumoError } from "@kumo/core";
import { errorFromResponse } from "../api-client.ts";
import { apiPath } from "../api-path.ts";
import type { FunctionInfo, WhoAmI } from "../api-types.ts";
import type { Command, CommandContext } from "../command.ts";
import { CliError, EXIT_CODES, usageError } from "../errors.ts";
import { addressOf, type FunctionRef, parseFunctionRef } from "../function-ref.ts";
import { readStdin } from "../prompt.ts";

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

export const invokeCommand: Command = {
  name: "invoke",
  summary: "Call a function and print its response",
  help: `Usage: kumo invoke <fn>[@alias|@version] [--data JSON|@file|@-] [--method M] [--path /p]
                   [--header k:v]... [--async]

Without --method or --path the call goes to POST /v1/functions/<fn>/invoke (path "/"); with them
it goes to the function's public URL /fn/<tenant>/<fn>[@alias]/<path>. Your API key is sent there
only if the function requires one (kumo.json "httpAuth": "key").
The response body is written to stdout as is. Exit code 1 if the function fails or answers >= 400.

  -d, --data D      request body: JSON or text, @file to read a file, @- to read stdin
  -X, --method M    HTTP method (default: POST with --data, else GET; the invoke API always POSTs)
  --path /p         path (and ?query) after the function prefix
  -H, --header k:v  request header, repeatable
  --async           queue the invocation and print its id (see \`kumo invocations <id>\`)`,
  options: {
    data: { type: "string", short: "d" },
    method: { type: "string", short: "X" },
    path: { type: "string" },
    header: { type: "string", short: "H", multiple: true },
    async: { type: "boolean" },
  },
  async run(context, args) {
    args.atMost(1);
    const ref = parseFunctionRef(args.required(0, "function name (kumo invoke <fn>)"));
    const headers = parseHeaders(args.strings("header"));
    const body = await requestBody(context, args.string("data"), headers);
    const method = args.string("method")?.toUpperCase();
    if (method !== undefined && !METHODS.includes(method)) {
      throw usageError(`unsupported method "${method}": expected one of ${METHODS.join(", ")}`);
    }
    const path = args.string("path");
    if (path !== undefined && !path.startsWith("/"))
      throw usageError(`--path must start with "/", got "${path}"`);
    if (args.flag("async")) headers["kumo-invocation-type"] = "async";

    const client = await context.client();
    const target = await targetOf(context, ref, method, path, body !== undefined);
    const { url: apiUrl, method: httpMethod } = target;

    const started = context.io.now();
    const response = await client.send(httpMethod, apiUrl, { headers, body, anonymous: !target.withKey });
    const invocationId = response.headers.get("kumo-invocation-id");
    const data = new Uint8Array(await response.arrayBuffer());
    const elapsedMs = context.io.now() - started;
    await throwIfFailed(response, data, httpMethod, apiUrl, invocationId);

    const { out } = context;
    if (args.flag("async")) {
      const id = invocationIdOf(data) ?? invocationId;
      out.result({ invocationId: id, status: response.status }, () => {
        out.line(id ?? "(no invocation id returned)");
        out.note(`Queued. Check it with: kumo invocations ${id ?? "<id>"}`);
      });
      return;
    }
    const text = new TextDecoder().decode(data);
    out.result(
      {
        status: response.status,
        invocationId,
        headers: Object.fromEntries(response.headers),
        body: (response.headers.get("content-type") ?? "").includes("json") ? parseOr(text) : text,
      },
      () => {
        out.raw(data);
        if (context.io.stdout.isTTY && data.length > 0 && data[data.length - 1] !== 10) out.raw("\n");
        if (context.io.stderr.isTTY) {
          out.note(
            `HTTP ${response.status} · ${elapsedMs} ms${invocationId ? ` · invocation ${invocationId}` : ""}`,
          );
        }
      },
    );
    if (response.status >= 400) {
      throw new CliError("HTTP", EXIT_CODES.error, `${ref.name} answered HTTP ${response.status}`, {
        details: { status: response.status, invocationId },
      });
    }
  },
};

interface InvokeTarget {
  url: string;
  method: string;
  /** Whether to send the API key: never to a public function, whose code would see it. */
  withKey: boolean;
}

/**
 * The invoke API always POSTs to "/" of the function; a method or path needs the public URL. That
 * one gets the key only when the function requires it (httpAuth "key"), in which case the gateway
 * strips it before the function runs.
 */
async function targetOf(
  context: CommandContext,
  ref: FunctionRef,
  method: string | undefined,
  path: string | undefined,
  hasBody: boolean,
): Promise<InvokeTarget> {
  if (method === undefined && path === undefined) {
    return {
      // addressOf() only yields validated names, safe in a path as they are.
      url: `/v1/functions/${addressOf(ref)}/invoke`,
      method: "POST",
      withKey: true,
    };
  }
  const client = await context.client();
  const whoami = await client.get<WhoAmI>("/v1/whoami");
  if (!whoami.tenant)
    throw usageError("this key belongs to no tenant: invoke with a key of the function's tenant");
  const fn = await client.get<FunctionInfo>(apiPath`/v1/functions/${ref.name}`).catch(() => null);
  return {
    url: `${apiPath`/fn/${whoami.tenant.name}`}/${addressOf(ref)}${path ?? "/"}`,
    method: method ?? (hasBody ? "POST" : "GET"),
    withKey: fn?.config.httpAuth === "key",
  };
}

/** A handler failure (`kumo-error` header) or a platform error (an error envelope) becomes a KumoError. */
async function throwIfFailed(
  response: Response,
  data: Uint8Array,
  method: string,
  path: string,
  invocationId: string | null,
): Promise<void> {
  if (response.ok) return;
  const text = new TextDecoder().decode(data);
  const parsed = parseOr(text);
  const functionError = response.headers.get("kumo-error");
  if (functionError !== null) {
    const body = typeof parsed === "object" && parsed !== null ? parsed : {};
    const inner =
      "error" in body && typeof body.error === "object" && body.error !== null ? body.error : body;
    const code =
      "code" in inner && isErrorCode(inner.code)
        ? inner.code
        : isErrorCode(functionError)
          ? functionError
          : "FN_004";
    const message =
      "message" in inner && typeof inner.message === "string" ? inner.message : text || "the function failed";
    const stack = "stack" in inner && typeof inner.stack === "string" ? inner.stack : undefined;
    throw new KumoError(code, message, { details: { invocationId, stack }, status: response.status });
  }
  if (hasErrorEnvelope(parsed)) {
    // A platform error (not found, denied, rate limited...): decoded like every other API answer.
    throw await errorFromResponse(
      new Response(data, { status: response.status, headers: response.headers }),
      method,
      path,
    );
  }
}

function hasErrorEnvelope(value: unknown): boolean {
  if (typeof value !== "object" || value === null || !("error" in value)) return false;
  const error = value.error;
  return typeof error === "object" && error !== null && "code" in error && isErrorCode(error.code);
}

function parseHeaders(values: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const value of values) {
    const colon = value.indexOf(":");
    const name = colon === -1 ? "" : value.slice(0, colon).trim().toLowerCase();
    if (!/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(name))
      throw usageError(`invalid --header "${value}": expected name:value`);
    headers[name] = value.slice(colon + 1).trim();
  }
  return headers;
}

async function requestBody(
  context: CommandContext,
  data: string | undefined,
  headers: Record<string, string>,
): Promise<{ data: Uint8Array | string; contentType: string } | undefined> {
  if (data === undefined) return undefined;
  let content: Uint8Array | string;
  let fallbackType = "text/plain; charset=utf-8";
  if (data === "@-") {
    content = await readStdin(context.io);
    fallbackType = "application/octet-stream";
  } else if (data.startsWith("@")) {
    const file = resolve(context.io.cwd, data.slice(1));
    try {
      content = await readFile(file);
    } catch {
      throw usageError(`cannot read --data file ${file}`);
    }
    fallbackType = "application/octet-stream";
  } else {
    content = data;
  }
  const text = typeof content === "string" ? content : new TextDecoder().decode(content);
  const contentType = headers["content-type"] ?? (isJson(text) ? "application/json" : fallbackType);
  delete headers["content-type"];
  return { data: content, contentType };
}

function isJson(text: string): boolean {
  if (text.trim() === "") return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function parseOr(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function invocationIdOf(data: Uint8Array): string | null {
  const parsed = parseOr(new TextDecoder().decode(data));
  if (
    typeof parsed === "object" &&
    parsed !== null &&
    "invocationId" in parsed &&
    typeof parsed.invocationId === "string"
  ) {
    return parsed.invocationId;
  }
  return null;
}
