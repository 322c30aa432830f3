/**
 * Log search (issue 13, "Logs"): GET /v1/functions/:name/logs over millions of stored lines, on
 * this machine (real PostgreSQL, loopback only, fastify inject).
 *   1. Generates `--lines` log lines (default 5 million) in PostgreSQL itself (multi-row
 *      INSERT … SELECT over generate_series, 250,000 rows a statement, with every index of the
 *      schema in place, as the recorder writes them): 20 functions, one of them ("hot") with half
 *      of all lines; 30 days of timestamps; ~10 lines per invocation; 15 % debug, 68 % info,
 *      12 % warn, 5 % error; some JSON lines; one line in 100,000 carries a unique "needle-<n>".
 *   2. Times the search API on the hot function (2.5 million lines): the newest page, a rare
 *      substring (`q=needle-<n>`, a different one each request), a common word (`q=timeout`),
 *      `level=error`, `invocationId=…`, and a rare substring with `level=error`. Side by side, in
 *      the same run: a primary-key lookup (the floor of any query) and the rare-substring query with
 *      the trigram index switched off (`enable_bitmapscan = off` in its transaction: GIN is only
 *      reachable through bitmap scans), i.e. what search costs without the index.
 * Run: node --import tsx bench/logs.bench.ts [--lines 5000000] [--samples 200]
 * Prints the figures and writes bench/results/logs.json.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { sql } from "kysely";
import { startApiGateway } from "./support/api-gateway.ts";

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    lines: { type: "string", default: "5000000" },
    samples: { type: "string", default: "200" },
  },
});
const totalLines = Number(args.lines);
const samples = Number(args.samples);
const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const FUNCTIONS = 20;
const CHUNK = 250_000;
const DAY_MS = 86_400_000;
const NEEDLE_EVERY = 100_000;
/** Where in each 100,000 the needle line is: an even line (the hot function's) of level error. */
const NEEDLE_AT = 96;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}
const round = (v: number, d = 2) => Math.round(v * 10 ** d) / 10 ** d;

async function time(
  run: (i: number) => Promise<unknown>,
  count: number,
): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < Math.min(3, count); i++) await run(i);
  const taken: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await run(i);
    taken.push(performance.now() - t0);
  }
  return { p50: round(percentile(taken, 50)), p99: round(percentile(taken, 99)) };
}

async function main(): Promise<void> {
  const api = await startApiGateway(databaseUrl);
  const { database, adminKey, call } = api;
  try {
    const db = database.db;
    const tenant = await call("/v1/tenants", adminKey, "POST", { name: "bench" });
    const tenantId: string = tenant.tenant.id;
    const key: string = tenant.apiKey.key;
    const functionIds: string[] = [];
    for (let f = 0; f < FUNCTIONS; f++) {
      const fn = await call("/v1/functions", key, "POST", {
        name: f === 0 ? "hot" : `fn-${f}`,
        runtime: "edge",
      });
      functionIds.push(fn.id);
    }
    const trigram = await sql<{ n: number }>`select count(*)::int as n from pg_indexes
      where schemaname = current_schema() and indexname = 'logs_message_trgm_idx'`.execute(db);
    const indexed = (trigram.rows[0]?.n ?? 0) > 0;

    // 1. Generate, as a bulk load does: the secondary indexes are dropped, the rows inserted, then
    // the indexes built again from their own definitions (each index built once, not row by row).
    const definitions = await sql<{ name: string; def: string }>`select indexname as name, indexdef as def
      from pg_indexes where schemaname = current_schema() and tablename = 'logs' and indexname <> 'logs_pkey'`.execute(
      db,
    );
    for (const index of definitions.rows) await sql`drop index ${sql.id(index.name)}`.execute(db);
    const end = Date.now();
    const t0 = performance.now();
    for (let from = 0; from < totalLines; from += CHUNK) {
      const to = Math.min(totalLines, from + CHUNK) - 1;
      await sql`insert into logs (tenant_id, function_id, invocation_id, version, ts, level, message, fields)
        select ${tenantId},
          (${sql.val(functionIds)}::text[])[case when g % 2 = 0 then 1 else 2 + (g / 2) % ${FUNCTIONS - 1} end],
          overlay(overlay(md5((g / 10)::text) placing '4' from 13) placing '8' from 17)::uuid::text,
          1 + (g / 1000000),
          to_timestamp((${end - 30 * DAY_MS}::bigint + (g::bigint * ${Math.floor((30 * DAY_MS) / totalLines)})) / 1000.0),
          case when g % 100 < 15 then 'debug' when g % 100 < 83 then 'info' when g % 100 < 95 then 'warn' else 'error' end,
          case
            when g % ${NEEDLE_EVERY} = ${NEEDLE_AT} then 'payment failed: needle-' || g || ' card declined'
            when g % 50 = 3 then json_build_object('level', 'info', 'msg', 'order placed', 'orderId', g, 'total', g % 997)::text
            when g % 100 >= 95 then 'upstream timeout after ' || (g % 3000) || ' ms calling inventory-' || (g % 17)
            when g % 7 = 0 then 'GET /api/orders/' || (g % 100000) || ' 200 in ' || (g % 250) || 'ms'
            when g % 7 = 1 then 'cache miss key=user:' || (g % 50000) || ':profile'
            when g % 7 = 2 then 'user ' || substr(md5(g::text), 1, 12) || ' signed in from 10.' || (g % 256) || '.0.1'
            else 'processed batch ' || (g % 1000) || ' of ' || (g % 37) || ' items, queue depth ' || (g % 91)
          end,
          case when g % 50 = 3 then json_build_object('level', 'info', 'msg', 'order placed', 'orderId', g, 'total', g % 997)::jsonb end
        from generate_series(${from}::bigint, ${to}::bigint) as g`.execute(db);
      process.stdout.write(`\rgenerated ${to + 1} / ${totalLines} lines`);
    }
    const generateMs = performance.now() - t0;
    const t1 = performance.now();
    await db.connection().execute(async (conn) => {
      await sql`set maintenance_work_mem = '1GB'`.execute(conn);
      for (const index of definitions.rows) await sql.raw(index.def).execute(conn);
    });
    const indexMs = performance.now() - t1;
    await sql`analyze logs`.execute(db);
    const size = await sql<{ table: string; indexes: string }>`select
        pg_size_pretty(pg_relation_size('logs')) as table,
        pg_size_pretty(pg_indexes_size('logs')) as indexes`.execute(db);
    console.log(
      `\ngenerated ${totalLines} lines in ${round(generateMs / 1000, 1)} s (${Math.round(totalLines / (generateMs / 1000))} lines/s), indexes built in ${round(indexMs / 1000, 1)} s; table ${size.rows[0]?.table}, indexes ${size.rows[0]?.indexes}; trigram index: ${indexed ? "yes" : "no (pg_trgm unavailable)"}`,
    );

    // 2. Search the hot function.
    const hot = functionIds[0] as string;
    const needles = Array.from(
      { length: Math.floor(totalLines / NEEDLE_EVERY) },
      (_, i) => i * NEEDLE_EVERY + NEEDLE_AT,
    );
    const needle = (i: number) => needles[i % needles.length] as number;
    // Invocation k wrote lines 10k..10k+9; the even ones are the hot function's.
    const invocationIds = await sql<{
      id: string;
    }>`select overlay(overlay(md5(((s.i * 7919) % ${Math.floor(totalLines / 10)})::text) placing '4' from 13) placing '8' from 17)::uuid::text as id
      from generate_series(0, ${samples + 5}) as s(i)`.execute(db);
    const ids = invocationIds.rows.map((r) => r.id);
    const needleLines = await sql<{ n: number }>`select count(*)::int as n from logs
      where function_id = ${hot} and message like 'payment failed: needle-%'`.execute(db);
    console.log(`hot function: ${needleLines.rows[0]?.n} needle lines`);
    let deepCursor = "";
    for (let page = 1; page < 20; page++) {
      const res = await call(
        `/v1/functions/hot/logs?q=timeout&limit=50${deepCursor ? `&cursor=${encodeURIComponent(deepCursor)}` : ""}`,
        key,
      );
      deepCursor = res.nextCursor;
    }
    const api: Record<string, { p50: number; p99: number; rows: number }> = {};
    const measure = async (name: string, url: (i: number) => string, count = samples) => {
      let rows = 0;
      const figures = await time(async (i) => {
        const page = await call(url(i), key);
        rows = page.items.length;
      }, count);
      api[name] = { ...figures, rows };
      console.log(`${name.padEnd(28)} p50 ${figures.p50} ms  p99 ${figures.p99} ms  (${rows} lines a page)`);
    };
    await measure("newest page (50)", () => "/v1/functions/hot/logs");
    await measure("q=needle-<n> (rare)", (i) => `/v1/functions/hot/logs?q=needle-${needle(i)}`);
    await measure("q=timeout (common)", () => "/v1/functions/hot/logs?q=timeout");
    await measure("level=error", () => "/v1/functions/hot/logs?level=error");
    await measure("invocationId=…", (i) => `/v1/functions/hot/logs?invocationId=${ids[i % ids.length]}`);
    await measure(
      "q=needle + level=error",
      (i) => `/v1/functions/hot/logs?q=needle-${needle(i)}&level=error`,
    );
    await measure(
      "q=timeout, page 20 (cursor)",
      () => `/v1/functions/hot/logs?q=timeout&limit=50&cursor=${encodeURIComponent(deepCursor)}`,
    );

    // Baselines, same run, same data.
    const pk = await sql<{ id: string }>`select id from logs where function_id = ${hot} limit 1`.execute(db);
    const pkId = pk.rows[0]?.id ?? "1";
    const pkLookup = await time(() => sql`select * from logs where id = ${pkId}`.execute(db), samples);
    console.log(`${"baseline: primary key".padEnd(28)} p50 ${pkLookup.p50} ms  p99 ${pkLookup.p99} ms`);
    const unindexedSamples = Math.max(5, Math.min(20, Math.floor(samples / 10)));
    const unindexed = await time(
      (i) =>
        db.transaction().execute(async (trx) => {
          await sql`set local enable_bitmapscan = off`.execute(trx);
          return sql`select * from logs where tenant_id = ${tenantId} and function_id = ${hot}
            and message ilike ${`%needle-${needle(i)}%`} order by ts desc, id desc limit 51`.execute(trx);
        }),
      unindexedSamples,
    );
    const indexedSql = await time(
      (i) =>
        sql`select * from logs where tenant_id = ${tenantId} and function_id = ${hot}
          and message ilike ${`%needle-${needle(i)}%`} order by ts desc, id desc limit 51`.execute(db),
      samples,
    );
    console.log(
      `${"rare q, SQL, trigram index".padEnd(28)} p50 ${indexedSql.p50} ms  p99 ${indexedSql.p99} ms\n${"rare q, SQL, no index".padEnd(28)} p50 ${unindexed.p50} ms  p99 ${unindexed.p99} ms  (${unindexedSamples} samples)`,
    );
    const ratio = round(unindexed.p50 / Math.max(indexedSql.p50, 0.001), 1);
    console.log(
      `rare substring search: ${ratio}x faster with the trigram index (p50); API rare q p99 ${api["q=needle-<n> (rare)"]?.p99} ms vs primary-key lookup p99 ${pkLookup.p99} ms`,
    );

    const result = {
      benchmark: "logs",
      at: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? "", node: process.version },
      data: {
        lines: totalLines,
        functions: FUNCTIONS,
        hotFunctionLines: Math.ceil(totalLines / 2),
        generateSeconds: round(generateMs / 1000, 1),
        indexBuildSeconds: round(indexMs / 1000, 1),
        tableSize: size.rows[0]?.table,
        indexSize: size.rows[0]?.indexes,
        trigramIndex: indexed,
      },
      api,
      baselines: {
        primaryKeyLookup: pkLookup,
        rareSubstringSqlIndexed: indexedSql,
        rareSubstringSqlUnindexed: { ...unindexed, samples: unindexedSamples },
        unindexedOverIndexedP50: ratio,
      },
    };
    await mkdir(join(here, "results"), { recursive: true });
    await writeFile(join(here, "results", "logs.json"), `${JSON.stringify(result, null, 2)}\n`);
    console.log(`wrote bench/results/logs.json`);
  } finally {
    await api.close();
  }
}

await main();
