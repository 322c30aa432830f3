import { z } from "zod";
import { logLineSchema, stepContextSchema } from "./step-runs.ts";

/** The request and answer shapes of the draft-run routes (draft-runs.ts). */

const HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] as const;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const MAX_FILE_BYTES = 1024 * 1024;

export const draftRequest = z.strictObject({
  method: z.enum(HTTP_METHODS).optional().describe("Default GET"),
  path: z
    .string()
    .max(2000)
    .regex(/^\//, 'must start with "/"')
    .optional()
    .describe('Path after the function prefix; default "/"'),
  query: z.string().max(4000).optional().describe("Query string without the ?"),
  headers: z
    .record(z.string().regex(HEADER_NAME, "must be an HTTP header name"), z.string().max(8192))
    .optional(),
  body: z
    .string()
    .max(512 * 1024)
    .optional()
    .describe("Request body as text"),
});

const draftFiles = z
  .record(z.string().min(1).max(500), z.string().max(MAX_FILE_BYTES))
  .refine((f) => Object.keys(f).length > 0, "must hold at least one file");

export const draftRunBody = z.strictObject({
  files: draftFiles.describe("The unsaved source, {path: content}; kumo.json among them configures it"),
  config: z
    .record(z.string(), z.unknown())
    .optional()
    .describe("kumo.json as an object (overrides the file)"),
  request: draftRequest.optional().describe("The sample request; default GET /"),
});

/** `POST /v1/run`: code that belongs to no function. */
export const runBody = z
  .strictObject({
    runtime: z.enum(["edge"]).describe("Drafts run in isolates: edge only (deploy container runtimes)"),
    files: draftFiles.optional().describe("The source, {path: content}; or `code`"),
    code: z
      .string()
      .max(MAX_FILE_BYTES)
      .optional()
      .describe("One file of source (`handler` names it; default index.ts)"),
    handler: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .describe("Entry file among `files` (default: index.ts, index.js, … as a deploy picks it)"),
    input: z.unknown().optional().describe("Run it as a workflow step with this input: step(input, context)"),
    context: stepContextSchema.optional().describe("The step's context (with `input`)"),
    request: draftRequest.optional().describe("Run it as an HTTP request (default GET /)"),
    env: z
      .record(z.string().regex(ENV_NAME, "must be an environment variable name"), z.string().max(64 * 1024))
      .optional()
      .describe(
        "The draft's environment: these variables only (no tenant secret is available to a draft of no function)",
      ),
  })
  .superRefine((body, check) => {
    if ((body.files === undefined) === (body.code === undefined)) {
      check.addIssue({ code: "custom", path: ["code"], message: "send either files or code (exactly one)" });
    }
    if (body.input !== undefined && body.request !== undefined) {
      check.addIssue({
        code: "custom",
        path: ["request"],
        message: "send either input (a step) or request (HTTP), not both",
      });
    }
    if (body.context !== undefined && body.input === undefined) {
      check.addIssue({ code: "custom", path: ["context"], message: "context goes with input (a step run)" });
    }
  });

export const draftHttpAnswer = z.object({
  invocationId: z.string(),
  status: z.number().int(),
  headers: z.array(z.tuple([z.string(), z.string()])),
  body: z.string(),
  bodyEncoding: z.enum(["utf8", "base64"]),
  truncated: z.boolean(),
  logs: z.array(logLineSchema),
  durationMs: z.number(),
  coldStart: z.string(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
});

export const draftStepAnswer = z.object({
  invocationId: z.string(),
  output: z.unknown(),
  nextPath: z.string(),
  error: z.object({ code: z.string(), message: z.string(), stack: z.string().optional() }).optional(),
  logs: z.array(logLineSchema),
  durationMs: z.number(),
  coldStart: z.string(),
});
