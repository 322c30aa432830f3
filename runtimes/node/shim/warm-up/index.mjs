// The shim's own handler, loaded at start by main.mjs's warm-up through the same loader steps as a
// function's, then invoked a few times through the shim's socket (see warmItself there). It never
// serves a function's invocation. It reads the body, as most handlers do.
export default {
  async fetch(request) {
    await request.arrayBuffer();
    return new Response("warm", { headers: { "content-type": "text/plain" } });
  },
};
