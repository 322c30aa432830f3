import { rmSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { type KumoError, toKumoError } from "@kumo/core";
import {
  type BuildEventMessage,
  type BuildRequestMessage,
  type FetchEventMessage,
  type GitSourceMessage,
  loadBuildService,
  MAX_MESSAGE_BYTES,
} from "./build-messages.ts";
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
  deps: { builder: ImageBuilder; git: GitFetcher; onError?: (error: unknown) => void },
): Promise<BuildServer> {
  const { definition } = loadBuildService();
  const server = new grpc.Server({
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
  });
  const calls = new Set<AbortController>();

  const build = (call: grpc.ServerWritableStream<BuildRequestMessage, BuildEventMessage>) => {
    const controller = new AbortController();
    calls.add(controller);
    call.on("cancelled", () => controller.abort(new Error("the client went away")));
    const send = (event: BuildEventMessage) => {
      if (!call.cancelled) call.write(event);
    };
    deps.builder
      .build(call.request, (line) => send({ event: "log", log: line }), controller.signal)
      .then(({ result, codeTar }) => {
        for (let at = 0; codeTar && at < codeTar.length; at += CHUNK_BYTES)
          send({ event: "codeTarChunk", codeTarChunk: codeTar.subarray(at, at + CHUNK_BYTES) });
        send({ event: "result", result });
      })
      .catch((error: unknown) => {
        const failure = toKumoError(error);
        if (failure.code === "FN_500") deps.onError?.(error);
        send({ event: "error", error: errorMessage(failure) });
      })
      .finally(() => {
        calls.delete(controller);
        call.end();
      });
  };

  const fetchGit = (call: grpc.ServerWritableStream<GitSourceMessage, FetchEventMessage>) => {
    const controller = new AbortController();
    calls.add(controller);
    call.on("cancelled", () => controller.abort(new Error("the client went away")));
    const send = (event: FetchEventMessage) => {
      if (!call.cancelled) call.write(event);
    };
    deps.git
      .fetch(call.request.url, call.request.ref, controller.signal)
      .then(({ tar, commit }) => {
        for (let at = 0; at < tar.length; at += CHUNK_BYTES)
          send({ event: "tarChunk", tarChunk: tar.subarray(at, at + CHUNK_BYTES) });
        send({ event: "result", result: { commit } });
      })
      .catch((error: unknown) => {
        const failure = toKumoError(error);
        if (failure.code === "FN_500") deps.onError?.(error);
        send({ event: "error", error: errorMessage(failure) });
      })
      .finally(() => {
        calls.delete(controller);
        call.end();
      });
  };

  server.addService(definition, {
    Build: build,
    FetchGit: fetchGit,
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
