// The parts of Deno's and Bun's globals the JS shim uses (on Deno it avoids Node's compatibility
// layer before it listens; see runtimes/node/shim/deno.mjs), for type-checking the shim under
// runtimes/tsconfig.shim.json with @types/node. Not shipped: the images copy shim/ only.

declare namespace Deno {
  interface Env {
    get(name: string): string | undefined;
    set(name: string, value: string): void;
  }
  interface ServeOptions {
    path: string;
    onListen?: () => void;
  }
  interface Server {
    shutdown(): Promise<void>;
  }
  interface FileInfo {
    isFile: boolean;
  }
  const env: Env;
  const stdout: { writeSync(bytes: Uint8Array): number };
  const errors: { NotFound: new (...args: unknown[]) => Error };
  function serve(options: ServeOptions, handler: (request: Request) => Response | Promise<Response>): Server;
  function removeSync(path: string): void;
  function chmodSync(path: string, mode: number): void;
  function statSync(path: string): FileInfo;
  function readTextFileSync(path: string): string;
  function cwd(): string;
  function exit(code?: number): never;
  function addSignalListener(signal: string, handler: () => void): void;
  function inspect(value: unknown, options?: Record<string, unknown>): string;
}

declare var Bun: unknown;
