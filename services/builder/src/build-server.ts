import { rmSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { type KumoError, toKumoError } from "@kumo/core";
import { ATTR, contextOf, endSpan, SpanKind, tracerFor } from "@kumo/telemetry";
import {
  type BuildEventMessage,
  type BuildRequestMessage,
  type EdgeDependenciesEventMessage,
  type EdgeDependenciesRequestMessage,
  type FetchEventMessage,
  type GitSourceMessage,
  loadBuildService,
  MAX_MESSAGE_BYTES,
} from "./build-messages.ts";
import type { EdgeDependencyBuilder } from "./edge-dependency-builder.ts";
import type { GitFetcher } from "./git-fetcher.ts";
import type { ImageBuilder } from "./image-builder.ts";

const CHUNK_BYTES = 1024 * 1024;

export interface BuildServer {
  /** The bound address (host:port with the real port, or unix:/path). */
  address: string;
  close(): Promise<void>;
}

/**
 * The gRPC BuildService. Failures travel in the stream as a BuildError {code, message, logTail}
 * (the stream itself ends OK), so the client sees Kumo codes rather than gRPC statuses.
 */
export async function serveBuildService(
  listen: string,
  deps: {
    builder: ImageBuilder;
    edgeDependencies: EdgeDependencyBuilder;
    git: GitFetcher;
    onError?: (error: unknown) => void;
    /** Each finished build: succeeded, or failed with its Kumo code, and how long it took. */
    onBuild?: (outcome: { ok: boolean; code: string; seconds: number }) => void;
  },
): Promise<BuildServer> {
  const { definition } = loadBuildService();
  const server = new grpc.Server({
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
  });
  const calls = new Set<AbortController>();

  /**
   * Runs one server-streamed call: the work gets an AbortSignal that fires when the client goes away
   * or the server stops, emits its events through `send`, and any failure ends the stream as a coded
   * error event.
   */
  const streamed =
    <Req, Event>(
      work: (
        request: Req,
        send: (event: Event) => void,
        signal: AbortSignal,
        traceparent: string | undefined,
      ) => Promise<void>,
      errorEvent: (error: ReturnType<typeof errorMessage>) => Event,
    ) =>
    (call: grpc.ServerWritableStream<Req, Event>) => {
      const controller = new AbortController();
      calls.add(controller);
      call.on("cancelled", () => controller.abort(new Error("the client went away")));
      const send = (event: Event) => {
        if (!call.cancelled) call.write(event);
      };
      const traceparent = call.metadata.get("traceparent")[0];
      work(call.request, send, controller.signal, typeof traceparent === "string" ? traceparent : undefined)
        .catch((error: unknown) => {
          const failure = toKumoError(error);
          if (failure.code === "FN_500") deps.onError?.(error);
          send(errorEvent(errorMessage(failure)));
        })
        .finally(() => {
          calls.delete(controller);
          call.end();
        });
    };

  const build = streamed<BuildRequestMessage, BuildEventMessage>(
    async (request, send, signal, traceparent) => {
      const started = performance.now();
      const seconds = () => (performance.now() - started) / 1000;
      // A build is a trace of its own unless the caller sent a traceparent in the call's metadata.
      const span = tracerFor(traceparent)?.startSpan(
        `build ${request.functionName}`,
        {
          kind: SpanKind.SERVER,
          attributes: {
            [ATTR.tenantId]: request.tenantId,
            [ATTR.faasName]: request.functionName,
            [ATTR.runtime]: request.runtime,
            "kumo.deployment.id": request.deploymentId,
          },
        },
        contextOf(traceparent),
      );
      let built: Awaited<ReturnType<ImageBuilder["build"]>>;
      try {
        built = await deps.builder.build(request, (line) => send({ event: "log", log: line }), signal);
      } catch (error) {
        const failure = toKumoError(error);
        deps.onBuild?.({ ok: false, code: failure.code, seconds: seconds() });
        if (span) endSpan(span, failure);
        throw error;
      }
      deps.onBuild?.({ ok: true, code: "", seconds: seconds() });
      if (span) {
        span.setAttributes({
          "kumo.build.cached": built.result.cached,
          "kumo.build.image_bytes": built.result.imageBytes,
        });
        endSpan(span);
      }
      const { result, codeTar } = built;
      for (let at = 0; codeTar && at < codeTar.length; at += CHUNK_BYTES)
        send({ event: "codeTarChunk", codeTarChunk: codeTar.subarray(at, at + CHUNK_BYTES) });
      send({ event: "result", result });
    },
    (error) => ({ event: "error", error }),
  );

  const fetchGit = streamed<GitSourceMessage, FetchEventMessage>(
    async (request, send, signal) => {
      const { tar, commit } = await deps.git.fetch(request.url, request.ref, signal);
      for (let at = 0; at < tar.length; at += CHUNK_BYTES)
        send({ event: "tarChunk", tarChunk: tar.subarray(at, at + CHUNK_BYTES) });
      send({ event: "result", result: { commit } });
    },
    (error) => ({ event: "error", error }),
  );

  const installEdgeDependencies = streamed<EdgeDependenciesRequestMessage, EdgeDependenciesEventMessage>(
    async (request, send, signal) => {
      const { result, tar } = await deps.edgeDependencies.install(
        request,
        (line) => send({ event: "log", log: line }),
        signal,
      );
      for (let at = 0; at < tar.length; at += CHUNK_BYTES)
        send({ event: "nodeModulesTarChunk", nodeModulesTarChunk: tar.subarray(at, at + CHUNK_BYTES) });
      send({ event: "result", result });
    },
    (error) => ({ event: "error", error }),
  );

  server.addService(definition, {
    Build: build,
    FetchGit: fetchGit,
    InstallEdgeDependencies: installEdgeDependencies,
  } as unknown as grpc.UntypedServiceImplementation);
  // A socket file left by a previous run would refuse the bind.
  if (listen.startsWith("unix:"))
    rmSync(listen.slice("unix:".length).replace(/^\/\/(?=\/)/, ""), { force: true });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  const address = listen.startsWith("unix:") ? listen : `${listen.slice(0, listen.lastIndexOf(":"))}:${port}`;
  return {
    address,
    async close() {
      for (const controller of calls) controller.abort(new Error("the builder is stopping"));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 5000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

function errorMessage(error: KumoError): { code: string; message: string; logTail: string } {
  const details = error.details as { logTail?: unknown } | undefined;
  return {
    code: error.code,
    message: error.message,
    logTail: typeof details?.logTail === "string" ? details.logTail : "",
  };
}
