// Runs one autocannon load in its own process (so its CPU is not mixed with the gateway's) and
// prints the result as JSON on stdout. Options come as one JSON argument.
import autocannon from "autocannon";

const options = JSON.parse(process.argv[2] ?? "{}");
// When the first request goes out (ms since the epoch): the caller times its windows from here,
// not from spawning this process, whose start is not the system's time.
const startedAt = performance.timeOrigin + performance.now();
const result = await autocannon(options);
process.stdout.write(
  `${JSON.stringify({
    requests: result.requests,
    latency: result.latency,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    total: result.requests.total,
    duration: result.duration,
    startedAt,
  })}\n`,
);
