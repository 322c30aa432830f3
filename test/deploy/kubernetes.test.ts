import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DaemonSet, Deployment, StatefulSet } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { ConfigMap, Namespace, Secret, Service } from "kubernetes-models/v1";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import type { z } from "zod";
import { autoscalerConfigSchema } from "../../services/autoscaler/src/config.ts";
import { builderConfigSchema } from "../../services/builder/src/config.ts";
import { gatewayConfigSchema } from "../../services/gateway/src/config.ts";
import { schedulerConfigSchema } from "../../services/scheduler/src/config.ts";

const DIR = fileURLToPath(new URL("../../deploy/kubernetes/", import.meta.url));

/** Each kind the manifests use, by apiVersion/kind, with the model that validates it. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "v1/Namespace": Namespace,
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "apps/v1/Deployment": Deployment,
  "apps/v1/DaemonSet": DaemonSet,
  "apps/v1/StatefulSet": StatefulSet,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
};

/** The Kumo service a container runs (by its main file) and the schema its environment must satisfy. */
const SERVICES = {
  gateway: { schema: gatewayConfigSchema, portVar: "KUMO_PORT" },
  builder: { schema: builderConfigSchema, portVar: "KUMO_BUILDER_PORT" },
  autoscaler: { schema: autoscalerConfigSchema, portVar: "KUMO_AUTOSCALER_PORT" },
  scheduler: { schema: schedulerConfigSchema, portVar: "KUMO_SCHEDULER_PORT" },
} as const;
type ServiceName = keyof typeof SERVICES;

/**
 * Settings a service cannot do without once it runs on more than one machine, although its schema
 * lets it start without them: the shared database and the secrets key (optional only because a
 * single process falls back to an embedded database), the autoscaler's node name (default "local",
 * the same on every node) and the admin key (no tenants can be created without it).
 */
const NEEDED_ACROSS_MACHINES = ["DATABASE_URL", "KUMO_MASTER_KEY", "KUMO_NODE_ID", "KUMO_ADMIN_KEY"];

// biome-ignore lint/suspicious/noExplicitAny: manifests are inspected as parsed YAML
type Obj = any;

interface Manifest {
  file: string;
  object: Obj;
}

function loadManifests(): Manifest[] {
  const out: Manifest[] = [];
  for (const file of readdirSync(DIR).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml")) {
    for (const doc of parseAllDocuments(readFileSync(join(DIR, file), "utf8"))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join("; ")}`);
      const object = doc.toJS();
      if (object) out.push({ file, object });
    }
  }
  return out;
}

const manifests = loadManifests();
const ofKind = (kind: string) => manifests.filter((m) => m.object.kind === kind).map((m) => m.object);
const workloads = () => [...ofKind("Deployment"), ...ofKind("DaemonSet"), ...ofKind("StatefulSet")];
const containersOf = (workload: Obj): Obj[] => workload.spec.template.spec.containers;
const label = (m: Manifest) => `${m.file}: ${m.object.kind}/${m.object.metadata?.name}`;

/** Which Kumo service a container runs, from its command. */
function serviceOf(container: Obj): ServiceName | undefined {
  const command = [...(container.command ?? []), ...(container.args ?? [])].join(" ");
  return (Object.keys(SERVICES) as ServiceName[]).find((s) => command.includes(`services/${s}/src/main.ts`));
}

/** Variables set on a container: its env entries plus any its shell command exports. */
function variablesOf(container: Obj): Set<string> {
  const names = new Set<string>((container.env ?? []).map((e: Obj) => e.name));
  for (const m of (container.command ?? []).join(" ").matchAll(/export ([A-Z_][A-Z0-9_]*)=/g))
    names.add(m[1]);
  return names;
}

/** Settings whose default names this machine (a loopback address): another machine must set them. */
function loopbackDefaults(schema: z.ZodObject): string[] {
  return Object.entries(schema.shape)
    .filter(([, field]) => {
      const parsed = (field as z.ZodType).safeParse(undefined);
      return parsed.success && typeof parsed.data === "string" && /127\.0\.0\.1|localhost/.test(parsed.data);
    })
    .map(([key]) => key);
}

describe("deploy - Kubernetes manifests (offline)", () => {
  it("deploy - every manifest is listed in kustomization.yaml and validates against its kind's schema", () => {
    const kustomization = parseAllDocuments(readFileSync(join(DIR, "kustomization.yaml"), "utf8"))[0]?.toJS();
    const files = readdirSync(DIR).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
    expect([...kustomization.resources].sort()).toEqual(files.sort());
    expect(manifests.length).toBeGreaterThan(10);
    for (const m of manifests) {
      const Model = MODELS[`${m.object.apiVersion}/${m.object.kind}`];
      expect(Model, `${label(m)}: no schema for ${m.object.apiVersion}/${m.object.kind}`).toBeDefined();
      if (!Model) continue;
      // validate() throws naming the JSON path of the first problem.
      expect(() => new Model(m.object as never).validate(), label(m)).not.toThrow();
    }
  });

  it("deploy - the schema validation catches a broken manifest (the check can fail)", () => {
    const gateway = structuredClone(ofKind("Deployment").find((d) => d.metadata.name === "kumo-gateway"));
    gateway.spec.template.spec.containers[0].ports[0].containerPort = "eighty";
    expect(() => new Deployment(gateway).validate()).toThrow(/containerPort/);
    const service = structuredClone(ofKind("Service")[0]);
    service.spec.ports = "80";
    expect(() => new Service(service).validate()).toThrow();
  });

  it("deploy - Services select pods that exist and name ports those pods have; the HPA targets a Deployment", () => {
    for (const service of ofKind("Service")) {
      const selector: Record<string, string> = service.spec.selector;
      const matching = workloads().filter((w) =>
        Object.entries(selector).every(([k, v]) => w.spec.template.metadata.labels?.[k] === v),
      );
      expect(matching.length, `Service ${service.metadata.name} selects no workload`).toBeGreaterThan(0);
      for (const port of service.spec.ports) {
        if (typeof port.targetPort !== "string") continue;
        for (const w of matching) {
          const names = containersOf(w).flatMap((c) => (c.ports ?? []).map((p: Obj) => p.name));
          expect(names, `Service ${service.metadata.name} port ${port.targetPort}`).toContain(
            port.targetPort,
          );
        }
      }
    }
    for (const w of workloads()) {
      // A workload's selector must match its own pod template, or the API server refuses it.
      for (const [k, v] of Object.entries(w.spec.selector.matchLabels))
        expect(w.spec.template.metadata.labels[k], `${w.kind} ${w.metadata.name}`).toBe(v);
    }
    const statefulSet = ofKind("StatefulSet")[0];
    expect(ofKind("Service").map((s) => s.metadata.name)).toContain(statefulSet.spec.serviceName);
    for (const hpa of ofKind("HorizontalPodAutoscaler")) {
      const target = hpa.spec.scaleTargetRef;
      expect(
        workloads().some((w) => w.kind === target.kind && w.metadata.name === target.name),
        `HPA ${hpa.metadata.name} targets ${target.kind}/${target.name}`,
      ).toBe(true);
    }
  });

  it("deploy - every configMapKeyRef and secretKeyRef names a defined object and key; probes and mounts name what exists", () => {
    const keysOf = (kind: string, name: string): string[] | undefined => {
      const object = ofKind(kind).find((o) => o.metadata.name === name);
      return object && Object.keys({ ...object.data, ...object.stringData });
    };
    let refs = 0;
    for (const w of workloads()) {
      const spec = w.spec.template.spec;
      const volumes = new Set<string>([
        ...(spec.volumes ?? []).map((v: Obj) => v.name),
        ...(w.spec.volumeClaimTemplates ?? []).map((v: Obj) => v.metadata.name),
      ]);
      for (const v of spec.volumes ?? []) {
        if (v.configMap) expect(keysOf("ConfigMap", v.configMap.name), `volume ${v.name}`).toBeDefined();
      }
      for (const c of containersOf(w)) {
        const where = `${w.kind} ${w.metadata.name} container ${c.name}`;
        for (const e of c.env ?? []) {
          for (const [refKind, ref] of [
            ["ConfigMap", e.valueFrom?.configMapKeyRef],
            ["Secret", e.valueFrom?.secretKeyRef],
          ] as const) {
            if (!ref) continue;
            refs++;
            expect(keysOf(refKind, ref.name), `${where}: ${refKind} ${ref.name}`).toContain(ref.key);
          }
        }
        const ports = (c.ports ?? []).map((p: Obj) => p.name);
        for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe].filter(Boolean)) {
          const port = probe.httpGet?.port ?? probe.tcpSocket?.port;
          if (typeof port === "string") expect(ports, `${where}: probe port`).toContain(port);
        }
        for (const mount of c.volumeMounts ?? []) expect([...volumes], where).toContain(mount.name);
      }
    }
    expect(refs).toBeGreaterThan(10);
  });

  it("deploy - each Kumo service's container sets what it needs on a multi-machine cluster, and its schema accepts the values", () => {
    const seen = new Set<ServiceName>();
    const configMaps = new Map(ofKind("ConfigMap").map((c) => [c.metadata.name, c.data ?? {}]));
    for (const w of workloads()) {
      for (const c of containersOf(w)) {
        const service = serviceOf(c);
        if (!service) continue;
        seen.add(service);
        const { schema, portVar } = SERVICES[service];
        const where = `${w.metadata.name} (${service})`;
        const keys = Object.keys(schema.shape);
        const set = variablesOf(c);
        // No typos: every variable is one the service reads (the node-name helper variable aside).
        for (const name of set)
          if (!name.startsWith("KUMO_K8S_")) expect(keys, `${where}: ${name}`).toContain(name);
        const needed = [
          ...loopbackDefaults(schema),
          ...NEEDED_ACROSS_MACHINES.filter((k) => keys.includes(k)),
        ];
        expect(needed.length, where).toBeGreaterThan(1);
        for (const name of needed) expect([...set], `${where} must set ${name}`).toContain(name);

        // Literal and ConfigMap values parse with the service's own schema (Secrets hold placeholders).
        const env: Record<string, string> = {};
        for (const e of c.env ?? []) {
          if (typeof e.value === "string") env[e.name] = e.value;
          const ref = e.valueFrom?.configMapKeyRef;
          if (ref) env[e.name] = configMaps.get(ref.name)?.[ref.key];
        }
        const parsed = schema.safeParse(env);
        expect(parsed.success, `${where}: ${parsed.error?.message}`).toBe(true);
        expect(env.KUMO_HOST, `${where}: listen on the pod's address`).toBe("0.0.0.0");
        // The health endpoints the probes use are served on the port the service is told to use.
        const http = (c.ports ?? []).find((p: Obj) => p.name === "http");
        expect(http?.containerPort, where).toBe(Number(env[portVar]));
        expect(c.readinessProbe?.httpGet?.path, where).toBe("/readyz");
        expect(c.livenessProbe?.httpGet?.path, where).toBe("/healthz");
        expect(c.resources?.requests?.cpu && c.resources?.requests?.memory, where).toBeTruthy();
      }
    }
    expect([...seen].sort()).toEqual(Object.keys(SERVICES).sort());
  });

  it("deploy - the autoscaler is a DaemonSet on container-engine nodes with the Docker socket; the scheduler runs once", () => {
    const daemonSet = ofKind("DaemonSet").find((d) => d.metadata.name === "kumo-autoscaler");
    const pod = daemonSet.spec.template.spec;
    expect(pod.nodeSelector).toEqual({ "kumo.dev/container-engine": "true" });
    const socket = pod.volumes.find((v: Obj) => v.hostPath?.path === "/var/run/docker.sock");
    expect(socket?.hostPath.type).toBe("Socket");
    const data = pod.volumes.find((v: Obj) => v.hostPath?.path === "/var/lib/kumo");
    // Containers bind-mount paths under the data dir from the host: same path inside and out.
    expect(pod.containers[0].volumeMounts).toContainEqual({ name: data.name, mountPath: "/var/lib/kumo" });
    const scheduler = ofKind("Deployment").find((d) => d.metadata.name === "kumo-scheduler");
    expect(scheduler.spec.replicas).toBe(1);
    // The node name is turned into a valid KUMO_NODE_ID by the shell command.
    const shell = spawnSync(
      "/bin/sh",
      ["-c", `${pod.containers[0].command[2].split(";")[0]}; printf %s "$KUMO_NODE_ID"`],
      {
        env: { KUMO_K8S_NODE_NAME: "ip-10-0-1-2.eu-west-1.compute.internal" },
        encoding: "utf8",
      },
    );
    expect(shell.stdout).toBe("ip-10-0-1-2-eu-west-1-compute-internal");
    expect(autoscalerConfigSchema.shape.KUMO_NODE_ID.safeParse(shell.stdout).success).toBe(true);
  });

  it("deploy - the NATS StatefulSet's config is accepted by nats-server and routes to its three pods", () => {
    const config = ofKind("ConfigMap").find((c) => c.metadata.name === "nats-config").data["nats.conf"];
    const statefulSet = ofKind("StatefulSet").find((s) => s.metadata.name === "nats");
    expect(statefulSet.spec.replicas).toBe(3);
    for (let i = 0; i < 3; i++)
      expect(config).toContain(`nats://nats-${i}.${statefulSet.spec.serviceName}:6222`);
    const urls = ofKind("ConfigMap")
      .find((c) => c.metadata.name === "kumo-config")
      .data.NATS_URL.split(",");
    expect(urls).toEqual([0, 1, 2].map((i) => `nats://nats-${i}.${statefulSet.spec.serviceName}:4222`));
    const dir = mkdtempSync(join(tmpdir(), "kumo-nats-conf-"));
    try {
      writeFileSync(join(dir, "nats.conf"), config);
      const check = spawnSync("nats-server", ["-c", join(dir, "nats.conf"), "-t"], {
        env: { ...process.env, POD_NAME: "nats-0" },
        encoding: "utf8",
      });
      expect(check.status, check.stderr + check.stdout).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
