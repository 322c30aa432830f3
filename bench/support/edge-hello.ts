/** The same hello-world `fetch` handler for every contender of bench/edge.bench.ts. */
export const HELLO_WORKER = `export default {
  async fetch(request) {
    return new Response("Hello World\\n", { headers: { "content-type": "text/plain" } });
  },
};
`;
