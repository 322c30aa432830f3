// The shim's own handler module, loaded once at start by main.mjs's warm-up through the same
// loader steps as a function's (see warmUp there). It never serves a function's invocation.
export default {
  fetch() {
    return new Response("warm");
  },
};
