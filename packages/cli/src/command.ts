import { ApiClient } from "./api-client.ts";
import type { CliIo } from "./cli-io.ts";
import { ConfigStore, type Credentials, configPath, resolveCredentials } from "./config-store.ts";
import { notLoggedIn } from "./errors.ts";
import { Output } from "./output.ts";
import type { OptionSpecs, ParsedArgs } from "./parsed-args.ts";
import { Progress } from "./progress.ts";

/** One `kumo <name>` command. Each lives in its own file under `commands/`. */
export interface Command {
  readonly name: string;
  /** One line for `kumo --help`. */
  readonly summary: string;
  /** The usage lines and option descriptions for `kumo <name> --help`. */
  readonly help: string;
  readonly options: OptionSpecs;
  run(context: CommandContext, args: ParsedArgs): Promise<void>;
}

/** What a command gets: the outside world, output, and lazily resolved credentials. */
export class CommandContext {
  readonly io: CliIo;
  readonly out: Output;
  readonly progress: Progress;
  readonly config: ConfigStore;
  readonly #flags: { url?: string; key?: string };
  #credentials: Credentials | undefined;

  constructor(io: CliIo, flags: { json: boolean; url?: string; key?: string }) {
    this.io = io;
    this.out = new Output(io.stdout, io.stderr, { json: flags.json });
    this.progress = new Progress(io.stderr);
    this.config = new ConfigStore(configPath(io.env));
    this.#flags = { url: flags.url, key: flags.key };
  }

  /** The URL and key to use, from flags, environment or the config file. */
  async credentials(): Promise<Credentials> {
    this.#credentials ??= resolveCredentials(this.#flags, this.io.env, await this.config.read());
    return this.#credentials;
  }

  /** A client with a key; fails with exit 3 when there is none. */
  async client(): Promise<ApiClient> {
    const { url, apiKey } = await this.credentials();
    if (apiKey === undefined) throw notLoggedIn(url);
    return this.clientFor(url, apiKey);
  }

  clientFor(url: string, apiKey: string | undefined): ApiClient {
    return new ApiClient({ url, apiKey, fetch: this.io.fetch, signal: this.io.signal });
  }
}
