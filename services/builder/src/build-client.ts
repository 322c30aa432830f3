import * as grpc from "@grpc/grpc-js";
import { type ErrorCode, isErrorCode, KumoError } from "@kumo/core";
import {
  type BuildEventMessage,
  type BuildRequestMessage,
  type BuildResultMessage,
  type EdgeDependenciesEventMessage,
  type EdgeDependenciesRequestMessage,
  type EdgeDependenciesResultMessage,
  type FetchEventMessage,
  loadBuildService,
  MAX_MESSAGE_BYTES,
} from "./build-messages.ts";

export type {
  BuildRequestMessage,
  BuildResultMessage,
  EdgeDependenciesRequestMessage,
  EdgeDependenciesResultMessage,
} from "./build-messages.ts";

export interface BuildOutcome {
  result: BuildResultMessage;
  /** The built /var/task as a tar; undefined for custom images. */
  codeTar: Buffer | undefined;
}

export interface BuildCallOptions {
  /** Each build log line as it streams. */
  onLog?: (line: string) => void;
  signal?: AbortSignal;
  /** The caller's trace context, sent as call metadata: the builder's span is its child. */
  traceparent?: string;
}

/**
 * The gateway's side of the BuildService: gRPC over a TCP address or `unix:/path`. Errors come back
 * as KumoErrors with the builder's code (FN_005 build failed, FN_006 bad source) and, for builds,
 * `details.logTail`; an unreachable builder is FN_500.
 */
export class BuildClient {
  readonly #client: grpc.Client & Record<string, (...args: unknown[]) => grpc.ClientReadableStream<unknown>>;
  readonly address: string;

  constructor(address: string) {
    const { Client } = loadBuildService();
    this.address = address;
    this.#client = new Client(address, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
      "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
    }) as unknown as grpc.Client & Record<string, (...args: unknown[]) => grpc.ClientReadableStream<unknown>>;
  }

  build(request: BuildRequestMessage, options: BuildCallOptions = {}): Promise<BuildOutcome> {
    const call = this.#call(
      "Build",
      request,
      options.signal,
      options.traceparent,
    ) as grpc.ClientReadableStream<BuildEventMessage>;
    const chunks: Buffer[] = [];
    let result: BuildResultMessage | undefined;
    let failure: KumoError | undefined;
    return this.#consume(call, (event) => {
      if (event.event === "log") options.onLog?.(event.log);
      else if (event.event === "codeTarChunk") chunks.push(event.codeTarChunk);
      else if (event.event === "result") result = event.result;
      else failure = toError(event.error.code, event.error.message, event.error.logTail);
    }).then(() => {
      if (failure) throw failure;
      if (!result) throw new KumoError("FN_500", "the builder ended the build without a result");
      return { result, codeTar: chunks.length > 0 ? Buffer.concat(chunks) : undefined };
    });
  }

  fetchGit(url: string, ref: string, signal?: AbortSignal): Promise<{ tar: Buffer; commit: string }> {
    const call = this.#call("FetchGit", { url, ref }, signal) as grpc.ClientReadableStream<FetchEventMessage>;
    const chunks: Buffer[] = [];
    let commit: string | undefined;
    let failure: KumoError | undefined;
    return this.#consume(call, (event) => {
      if (event.event === "tarChunk") chunks.push(event.tarChunk);
      else if (event.event === "result") commit = event.result.commit;
      else failure = toError(event.error.code, event.error.message, event.error.logTail);
    }).then(() => {
      if (failure) throw failure;
      if (commit === undefined) throw new KumoError("FN_500", "the builder ended the fetch without a result");
      return { tar: Buffer.concat(chunks), commit };
    });
  }

  /** An edge function's node_modules (a tar of regular files, paths under node_modules/), installed or cached. */
  installEdgeDependencies(
    request: EdgeDependenciesRequestMessage,
    options: BuildCallOptions = {},
  ): Promise<{ result: EdgeDependenciesResultMessage; tar: Buffer }> {
    const call = this.#call(
      "InstallEdgeDependencies",
      request,
      options.signal,
    ) as grpc.ClientReadableStream<EdgeDependenciesEventMessage>;
    const chunks: Buffer[] = [];
    let result: EdgeDependenciesResultMessage | undefined;
    let failure: KumoError | undefined;
    return this.#consume(call, (event) => {
      if (event.event === "log") options.onLog?.(event.log);
      else if (event.event === "nodeModulesTarChunk") chunks.push(event.nodeModulesTarChunk);
      else if (event.event === "result") result = event.result;
      else failure = toError(event.error.code, event.error.message, event.error.logTail);
    }).then(() => {
      if (failure) throw failure;
      if (!result) throw new KumoError("FN_500", "the builder ended the install without a result");
      return { result, tar: Buffer.concat(chunks) };
    });
  }

  close(): void {
    this.#client.close();
  }

  #call(
    method: string,
    request: unknown,
    signal: AbortSignal | undefined,
    traceparent?: string,
  ): grpc.ClientReadableStream<unknown> {
    const fn = this.#client[method];
    if (!fn) throw new KumoError("FN_500", `the BuildService has no method ${method}`);
    const metadata = new grpc.Metadata();
    if (traceparent) metadata.set("traceparent", traceparent);
    const call = fn.call(this.#client, request, metadata);
    if (signal) {
      if (signal.aborted) call.cancel();
      else signal.addEventListener("abort", () => call.cancel(), { once: true });
    }
    return call;
  }

  #consume<T>(call: grpc.ClientReadableStream<T>, onEvent: (event: T) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      call.on("data", onEvent);
      call.on("error", (error: grpc.ServiceError) => {
        if (error.code === grpc.status.CANCELLED) reject(new KumoError("FN_005", "the build was cancelled"));
        else
          reject(
            new KumoError(
              "FN_500",
              `the builder at ${this.address} failed: ${error.details || error.message}`,
            ),
          );
      });
      call.on("end", () => resolve());
    });
  }
}

function toError(code: string, message: string, logTail: string): KumoError {
  const known: ErrorCode = isErrorCode(code) ? code : "FN_500";
  return new KumoError(known, message, logTail ? { details: { logTail } } : {});
}
