import type { Command } from "../command.ts";
import { aliasCommand } from "./alias.ts";
import { deployCommand } from "./deploy.ts";
import { devCommand } from "./dev.ts";
import { domainsCommand } from "./domains.ts";
import { envCommand } from "./env.ts";
import { eventsCommand } from "./events.ts";
import { functionsCommand } from "./functions.ts";
import { initCommand } from "./init.ts";
import { invocationsCommand } from "./invocations.ts";
import { invokeCommand } from "./invoke.ts";
import { keysCommand } from "./keys.ts";
import { loginCommand } from "./login.ts";
import { logoutCommand } from "./logout.ts";
import { logsCommand } from "./logs.ts";
import { queuesCommand } from "./queues.ts";
import { rollbackCommand } from "./rollback.ts";
import { routesCommand } from "./routes.ts";
import { secretsCommand } from "./secrets.ts";
import { tenantsCommand } from "./tenants.ts";
import { testCommand } from "./test.ts";
import { trafficCommand } from "./traffic.ts";
import { triggersCommand } from "./triggers.ts";
import { versionsCommand } from "./versions.ts";
import { whoamiCommand } from "./whoami.ts";

/** Every command, in the order `kumo --help` lists them. */
export const COMMANDS: readonly Command[] = [
  loginCommand,
  logoutCommand,
  whoamiCommand,
  initCommand,
  deployCommand,
  devCommand,
  testCommand,
  invokeCommand,
  logsCommand,
  functionsCommand,
  versionsCommand,
  rollbackCommand,
  aliasCommand,
  trafficCommand,
  routesCommand,
  domainsCommand,
  triggersCommand,
  eventsCommand,
  queuesCommand,
  envCommand,
  secretsCommand,
  invocationsCommand,
  keysCommand,
  tenantsCommand,
];
