// `process` of edge functions built with "compatibility": ["nodejs"] (node:process, and the global
// that bundles reference): the function's env, nextTick and the fields libraries probe. The bootstrap
// puts the function's env on the isolate's own `process` before the module runs (inside/bootstrap.js).

const env = { ...(globalThis.process?.env ?? {}) };
const started = Date.now();
const noop = () => process;

const process = {
  env,
  // Not Node: libraries that test `process.versions.node` would then reach for fs, net and the like.
  title: "kumo-edge",
  version: "",
  versions: {},
  platform: "linux",
  arch: "x64",
  release: { name: "kumo-edge" },
  argv: [],
  execArgv: [],
  pid: 1,
  ppid: 0,
  exitCode: undefined,
  browser: false,
  nextTick(callback, ...args) {
    if (typeof callback !== "function")
      throw new TypeError('The "callback" argument must be of type function');
    queueMicrotask(() => callback(...args));
  },
  cwd: () => "/",
  chdir() {
    throw new Error("process.chdir() is not supported in edge functions");
  },
  umask: () => 0o22,
  uptime: () => (Date.now() - started) / 1000,
  hrtime: Object.assign(
    (previous) => {
      const now = performance.now();
      const seconds = Math.floor(now / 1000);
      const nanos = Math.floor((now % 1000) * 1e6);
      if (!previous) return [seconds, nanos];
      const diff = (seconds - previous[0]) * 1e9 + nanos - previous[1];
      return [Math.floor(diff / 1e9), diff % 1e9];
    },
    { bigint: () => BigInt(Math.floor(performance.now() * 1e6)) },
  ),
  memoryUsage: () => ({ rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 }),
  emitWarning(warning) {
    console.warn(typeof warning === "string" ? `Warning: ${warning}` : warning);
  },
  exit(code) {
    throw new Error(`process.exit(${code ?? ""}) is not supported in edge functions`);
  },
  abort() {
    throw new Error("process.abort() is not supported in edge functions");
  },
  on: noop,
  once: noop,
  off: noop,
  addListener: noop,
  removeListener: noop,
  removeAllListeners: noop,
  prependListener: noop,
  prependOnceListener: noop,
  emit: () => false,
  listeners: () => [],
  listenerCount: () => 0,
  binding() {
    throw new Error("process.binding() is not supported in edge functions");
  },
};

export default process;
export const { nextTick, cwd, hrtime, emitWarning, platform, version, versions, argv } = process;
export { env };
