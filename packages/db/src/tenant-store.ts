import type { Kysely } from "kysely";
import { AlertRulesRepo } from "./alert-rules-repo.ts";
import { AliasesRepo } from "./aliases-repo.ts";
import { ApiKeysRepo } from "./api-keys-repo.ts";
import { ArtifactsRepo } from "./artifacts-repo.ts";
import { type AuditContext, AuditRepo } from "./audit-repo.ts";
import { DeploymentsRepo } from "./deployments-repo.ts";
import { DomainsRepo } from "./domains-repo.ts";
import { EnvRepo } from "./env-repo.ts";
import { EventsRepo } from "./events-repo.ts";
import { FunctionsRepo } from "./functions-repo.ts";
import { InvocationsRepo } from "./invocations-repo.ts";
import { LogsRepo } from "./logs-repo.ts";
import { MetricsRepo } from "./metrics-repo.ts";
import { QuotasRepo } from "./quotas-repo.ts";
import { RolloutsRepo } from "./rollouts-repo.ts";
import { RoutesRepo } from "./routes-repo.ts";
import type { Database } from "./schema.ts";
import { SecretsRepo } from "./secrets-repo.ts";
import { TriggersRepo } from "./triggers-repo.ts";
import { UsageRepo } from "./usage-repo.ts";
import { VersionsRepo } from "./versions-repo.ts";

/**
 * All data access of one tenant. Repositories receive the tenant id here and nowhere else, so no
 * handler can issue a query that forgets it.
 */
export class TenantStore {
  readonly tenantId: string;
  readonly functions: FunctionsRepo;
  readonly versions: VersionsRepo;
  readonly artifacts: ArtifactsRepo;
  readonly aliases: AliasesRepo;
  readonly env: EnvRepo;
  readonly secrets: SecretsRepo;
  readonly deployments: DeploymentsRepo;
  readonly invocations: InvocationsRepo;
  readonly logs: LogsRepo;
  readonly keys: ApiKeysRepo;
  readonly audit: AuditRepo;
  readonly rollouts: RolloutsRepo;
  readonly routes: RoutesRepo;
  readonly domains: DomainsRepo;
  readonly triggers: TriggersRepo;
  readonly events: EventsRepo;
  readonly metrics: MetricsRepo;
  readonly alertRules: AlertRulesRepo;
  readonly quotas: QuotasRepo;
  readonly usage: UsageRepo;
  readonly #db: Kysely<Database>;
  readonly #auditContext: AuditContext;

  /** `auditContext`: what every audit entry this store records carries (the request's client address). */
  constructor(db: Kysely<Database>, tenantId: string, auditContext: AuditContext = {}) {
    this.#db = db;
    this.tenantId = tenantId;
    this.#auditContext = auditContext;
    this.functions = new FunctionsRepo(db, tenantId);
    this.versions = new VersionsRepo(db, tenantId);
    this.artifacts = new ArtifactsRepo(db, tenantId);
    this.aliases = new AliasesRepo(db, tenantId);
    this.env = new EnvRepo(db, tenantId);
    this.secrets = new SecretsRepo(db, tenantId);
    this.deployments = new DeploymentsRepo(db, tenantId);
    this.invocations = new InvocationsRepo(db, tenantId);
    this.logs = new LogsRepo(db, tenantId);
    this.keys = new ApiKeysRepo(db, tenantId);
    this.audit = new AuditRepo(db, tenantId, auditContext);
    this.rollouts = new RolloutsRepo(db, tenantId);
    this.routes = new RoutesRepo(db, tenantId);
    this.domains = new DomainsRepo(db, tenantId);
    this.triggers = new TriggersRepo(db, tenantId);
    this.events = new EventsRepo(db, tenantId);
    this.metrics = new MetricsRepo(db, tenantId);
    this.alertRules = new AlertRulesRepo(db, tenantId);
    this.quotas = new QuotasRepo(db, tenantId);
    this.usage = new UsageRepo(db, tenantId);
  }

  /** Runs `work` in one transaction with a store bound to the same tenant. */
  async transaction<T>(work: (store: TenantStore) => Promise<T>): Promise<T> {
    return this.#db
      .transaction()
      .execute((trx) => work(new TenantStore(trx, this.tenantId, this.#auditContext)));
  }
}
