// Injected like buffer-global.js: a free `process` is node-compat/process.js.
export { default as process } from "./process.js";
