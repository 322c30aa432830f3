export {
  ApiClient,
  type ApiClientOptions,
  errorFromResponse,
  type Page,
  type RequestOptions,
} from "./api-client.ts";
export { commandHelp, mainHelp, runCli } from "./cli.ts";
export type { CliIo, InputStream, OutputStream } from "./cli-io.ts";
export {
  ConfigStore,
  configPath,
  DEFAULT_URL,
  resolveCredentials,
  type StoredConfig,
} from "./config-store.ts";
export { CliError, EXIT_CODES, type ExitCode, exitCodeOf } from "./errors.ts";
export { type PackResult, packDirectory } from "./pack-directory.ts";
