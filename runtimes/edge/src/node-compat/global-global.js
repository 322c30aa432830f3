// Injected like buffer-global.js: Node's `global` is globalThis.
const global = globalThis;

export { global };
