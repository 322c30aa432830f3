import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { KumoError } from "@kumo/core";
import Fastify, { type FastifyInstance, LogController } from "fastify";
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import type { GatewayContext } from "./context.ts";
import { auditFailures } from "./http/audit-failures.ts";
import { handleError } from "./http/error-handler.ts";
import { refuseNulInInput, refuseNulInParams } from "./http/refuse-nul.ts";
import { traceRequests, traceStep } from "./http/request-tracing.ts";
import type { GatewayMetrics } from "./metrics.ts";
import { alertRoutes } from "./routes/alerts.ts";
import { apiKeyRoutes } from "./routes/api-keys.ts";
import { auditRoutes } from "./routes/audit.ts";
import { consoleRoutes } from "./routes/console.ts";
import { customRouteRoutes } from "./routes/custom-routes.ts";
import { deadLetterRoutes } from "./routes/dead-letters.ts";
import { deploymentRoutes } from "./routes/deployments.ts";
import { domainRoutes } from "./routes/domains.ts";
import { draftRunRoutes } from "./routes/draft-runs.ts";
import { envRoutes } from "./routes/env.ts";
import { eventRoutes } from "./routes/events.ts";
import { functionRoutes } from "./routes/functions.ts";
import { gitRoutes } from "./routes/git.ts";
import { guideRoutes } from "./routes/guide.ts";
import { invocationRoutes } from "./routes/invocations.ts";
import { invokeRoutes } from "./routes/invoke.ts";
import { logRoutes } from "./routes/logs.ts";
import { metaRoutes } from "./routes/meta.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { queueRoutes } from "./routes/queues.ts";
import { quotaRoutes } from "./routes/quotas.ts";
import { rolloutRoutes } from "./routes/rollouts.ts";
import { routedInvokeRoutes, TENANT_HOST_PREFIX } from "./routes/routed-invoke.ts";
import { secretRoutes } from "./routes/secrets.ts";
import { stepRunRoutes } from "./routes/step-runs.ts";
import { tenantRoutes } from "./routes/tenants.ts";
import { triggerRoutes } from "./routes/triggers.ts";
import { versionSourceRoutes } from "./routes/version-source.ts";
import { versionRoutes } from "./routes/versions.ts";

export interface BuildAppOptions {
  metrics: GatewayMetrics;
  readiness: () => Promise<Record<string, boolean>>;
  logger?: boolean | { level: string };
}

/** The gateway's HTTP surface. Tests call `app.inject()` on it; `start()` listens. */
export async function buildApp(ctx: GatewayContext, options: BuildAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: ctx.config.apiBodyLimitBytes,
    routerOptions: { maxParamLength: 500 },
    // Errors the router raises before any route runs (bad percent-encoding, over-long parameters).
    frameworkErrors: (error, request, reply) => {
      const tooLong = error.code === "FST_ERR_MAX_PARAM_LENGTH";
      const message = tooLong
        ? "a path parameter is too long (names are at most 63 characters)"
        : `malformed URL: ${error.message}`;
      handleError(new KumoError("FN_006", message, { status: tooLong ? 414 : 400 }), request, reply);
    },
    return503OnClosing: true,
    forceCloseConnections: "idle",
    // Tenant hosts (apps domain, verified custom domains) own their whole path space.
    rewriteUrl: (req) =>
      ctx.hosts.classify(req.headers.host) ? `${TENANT_HOST_PREFIX}${req.url ?? "/"}` : (req.url ?? "/"),
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) => {
    handleError(
      new KumoError(
        "FN_001",
        `no route ${request.method} ${request.url.split("?")[0]}; see /docs for the API`,
      ),
      request,
      reply,
    );
  });
  app.decorateRequest("principal", undefined);
  app.decorateRequest("clientAddress", undefined);
  refuseNulInParams(app);
  traceRequests(app);

  await app.register(swagger, {
    openapi: {
      info: {
        title: "Kumo API",
        version: "1",
        description: "Management and invocation API of Kumo, self-hosted functions.",
      },
      components: { securitySchemes: { apiKey: { type: "http", scheme: "bearer" } } },
      security: [{ apiKey: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });

  // Callback-style hooks on paths every invocation takes: an async hook costs a promise per request.
  app.addHook("onResponse", (request, reply, done) => {
    const route = request.routeOptions.url;
    if (route?.startsWith("/v1/") && !route.endsWith("/invoke")) {
      options.metrics.apiSeconds.observe(
        { route, method: request.method, status: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
    }
    done();
  });

  await app.register(metaRoutes(ctx, { metrics: options.metrics, readiness: options.readiness }));
  await app.register(consoleRoutes(ctx));
  await app.register(guideRoutes(ctx));

  // Management API: every route needs a key; authentication runs before the body is read.
  await app.register(async (v1) => {
    // The management API speaks JSON only; plain text would reach validation as a string.
    v1.removeContentTypeParser("text/plain");
    refuseNulInInput(v1);
    auditFailures(v1, ctx);
    v1.addHook("onRequest", async (request) => {
      request.clientAddress = ctx.guard.clientAddress(request);
      if (!request.url.startsWith("/v1/schema/"))
        request.principal = await ctx.auth.authenticate(request.headers.authorization);
    });
    for (const routes of [
      tenantRoutes,
      apiKeyRoutes,
      functionRoutes,
      versionRoutes,
      versionSourceRoutes,
      draftRunRoutes,
      stepRunRoutes,
      envRoutes,
      secretRoutes,
      invocationRoutes,
      logRoutes,
      deadLetterRoutes,
      deploymentRoutes,
      rolloutRoutes,
      customRouteRoutes,
      domainRoutes,
      triggerRoutes,
      eventRoutes,
      metricsRoutes,
      queueRoutes,
      alertRoutes,
      auditRoutes,
      quotaRoutes,
    ]) {
      await v1.register(routes(ctx));
    }
  });
  // Invocations: bodies are opaque bytes, so they get their own scope and parsers. Public /fn routes
  // authenticate only when the function asks for it.
  await app.register(async (scope) => {
    scope.addHook("onRequest", (request, _reply, done) => {
      if (!request.url.startsWith("/v1/")) {
        done();
        return;
      }
      traceStep(request, "auth", () => ctx.auth.authenticate(request.headers.authorization)).then(
        (principal) => {
          request.principal = principal;
          done();
        },
        done,
      );
    });
    await scope.register(invokeRoutes(ctx));
    await scope.register(routedInvokeRoutes(ctx));
  });
  // The git smart-HTTP remote: Basic auth (API key as password) and git's own body types.
  await app.register(gitRoutes(ctx));
  return app;
}
