import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./nats-cluster.ts";

const run = promisify(execFile);

/** The newest PostgreSQL server binaries Debian installed (`/usr/lib/postgresql/<major>/bin`). */
function postgresBin(): string {
  const root = "/usr/lib/postgresql";
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((d) => /^\d+$/.test(d) && existsSync(join(root, d, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const major = majors[0];
  if (!major) throw new Error(`no PostgreSQL server under ${root} (apt-get install postgresql)`);
  return join(root, major, "bin");
}

/**
 * A PostgreSQL server of the test's own (initdb into a temporary directory, its own loopback port,
 * trust authentication), so a test can stop and start it without touching the machine's cluster
 * that other tests share. Run as the `postgres` user when the test runs as root (initdb refuses root).
 */
export class PrivatePostgres {
  readonly port: number;
  readonly #dir: string;
  readonly #bin = postgresBin();
  readonly #asRoot = userInfo().uid === 0;

  private constructor(port: number, dir: string) {
    this.port = port;
    this.#dir = dir;
  }

  static async start(): Promise<PrivatePostgres> {
    const dir = mkdtempSync(join(tmpdir(), "kumo-pg-"));
    const pg = new PrivatePostgres(await freePort(), dir);
    if (pg.#asRoot) {
      const { stdout } = await run("id", ["-u", "postgres"]);
      const { stdout: gid } = await run("id", ["-g", "postgres"]);
      chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
    }
    await pg.#as("initdb", ["-D", pg.#data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"]);
    await pg.startServer();
    return pg;
  }

  /** postgres://… of the `postgres` database. */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  get #data(): string {
    return join(this.#dir, "data");
  }

  /** Starts the server and waits until it accepts connections. */
  async startServer(): Promise<void> {
    const options = [
      `-p ${this.port}`,
      "-c listen_addresses=127.0.0.1",
      `-c unix_socket_directories=${this.#dir}`,
      "-c max_connections=200",
      // A test server: durability against power loss is not what is tested (restarts are clean).
      "-c fsync=off",
    ].join(" ");
    await this.#as("pg_ctl", [
      "-D",
      this.#data,
      "-l",
      join(this.#dir, "log"),
      "-o",
      options,
      "-w",
      "-t",
      "60",
      "start",
    ]);
  }

  /** Fast shutdown (open sessions are cut, as `systemctl restart postgresql` does). */
  async stopServer(): Promise<void> {
    await this.#as("pg_ctl", ["-D", this.#data, "-m", "fast", "-w", "-t", "60", "stop"]);
  }

  async stop(): Promise<void> {
    await this.stopServer().catch(() => undefined);
    rmSync(this.#dir, { recursive: true, force: true });
  }

  async #as(tool: string, args: string[]): Promise<void> {
    const path = join(this.#bin, tool);
    try {
      if (this.#asRoot) await run("runuser", ["-u", "postgres", "--", path, ...args], { cwd: this.#dir });
      else await run(path, args, { cwd: this.#dir });
    } catch (error) {
      const out = error as { stderr?: string; stdout?: string };
      throw new Error(`${tool} failed: ${out.stderr ?? ""}${out.stdout ?? ""}${String(error)}`);
    }
  }
}
