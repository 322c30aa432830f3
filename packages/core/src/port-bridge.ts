import { KumoError } from "./errors.ts";

/** The image holding kumo-bridge (deploy/images/port-bridge, built by scripts/images.mjs --only container). */
export const PORT_BRIDGE_IMAGE = "kumo/port-bridge:latest";
/** Where function containers see the bridge: a read-only volume holding only the binary. */
export const PORT_BRIDGE_DIR = "/run/kumo-bridge";
/**
 * The label of the volumes this module creates, one per bridge image (about 6 MB each). They are not
 * removed here: another process on the same engine may still be about to mount an older one.
 */
const VOLUME_LABEL = "dev.kumo.port-bridge";

/** kumo.json's `port` and `healthPath` of a custom image that listens on TCP. */
export interface PortBridgeSettings {
  port: number;
  healthPath?: string | undefined;
}

/** What a container of such an image is created with instead of the image's own command. */
export interface BridgedContainer {
  Entrypoint: string[];
  Cmd: string[];
  /** The bind (`<volume>:/run/kumo-bridge:ro`) to add to the container's HostConfig.Binds. */
  bind: string;
}

/** The few Docker engine calls the bridge needs (dockerode's Docker has them). */
export interface PortBridgeDocker {
  getImage(name: string): { inspect(): Promise<ImageFacts> };
  createVolume(options: { Name: string; Labels: Record<string, string> }): Promise<unknown>;
  createContainer(options: {
    Image: string;
    Labels: Record<string, string>;
    HostConfig: { Binds: string[]; NetworkMode: string };
  }): Promise<{
    start(): Promise<unknown>;
    wait(): Promise<{ StatusCode?: number }>;
    remove(options: { force: boolean }): Promise<unknown>;
  }>;
}

interface ImageFacts {
  Id: string;
  Config?: { Entrypoint?: string[] | string | null; Cmd?: string[] | string | null } | null;
}

export interface PortBridgeOptions {
  docker: PortBridgeDocker;
  /** Labels of the one-shot container that fills the volume (the caller's own, for its clean-up). */
  labels?: Record<string, string>;
  /** Builds the bridge image when it is missing (a checkout's scripts/images.mjs); else it must exist. */
  ensureImage?: () => Promise<void>;
}

/**
 * Runs images that listen on a TCP port (kumo.json `port`) behind kumo-bridge, a static binary
 * mounted read-only into their container as its entrypoint: it starts the image's own ENTRYPOINT
 * and CMD with PORT set and speaks Kumo's socket protocol for it (runtimes/custom/bridge).
 *
 * The binary reaches containers through a named volume, not a host path: Docker fills an empty
 * named volume from the image the first time a container mounts it, so the autoscaler and the
 * builder's load check need neither a file on the engine's host nor a tar reader, and the volume
 * (named after the bridge image's id) changes when the bridge does.
 */
export class PortBridge {
  readonly #options: PortBridgeOptions;
  #volume: Promise<string> | undefined;
  /** Image id -> its ENTRYPOINT+CMD (function images are content-addressed: never stale). */
  readonly #commands = new Map<string, Promise<string[]>>();

  constructor(options: PortBridgeOptions) {
    this.#options = options;
  }

  /** Entrypoint, command and mount of a container of `image` whose server listens on `settings.port`. */
  async container(image: string, settings: PortBridgeSettings): Promise<BridgedContainer> {
    const [volume, command] = await Promise.all([this.#volumeName(), this.#command(image)]);
    return {
      Entrypoint: [`${PORT_BRIDGE_DIR}/kumo-bridge`],
      Cmd: [
        "-port",
        String(settings.port),
        ...(settings.healthPath ? ["-health-path", settings.healthPath] : []),
        "--",
        ...command,
      ],
      bind: `${volume}:${PORT_BRIDGE_DIR}:ro`,
    };
  }

  #command(image: string): Promise<string[]> {
    let pending = this.#commands.get(image);
    if (!pending) {
      pending = this.#inspectCommand(image);
      if (this.#commands.size >= 1000) this.#commands.clear();
      this.#commands.set(image, pending);
      pending.catch(() => this.#commands.delete(image));
    }
    return pending;
  }

  /** The image's ENTRYPOINT then CMD, as Docker would run them. */
  async #inspectCommand(image: string): Promise<string[]> {
    const info = await this.#options.docker.getImage(image).inspect();
    const list = (value: string[] | string | null | undefined) =>
      Array.isArray(value) ? value : typeof value === "string" && value !== "" ? [value] : [];
    const command = [...list(info.Config?.Entrypoint), ...list(info.Config?.Cmd)];
    if (command.length === 0) {
      throw new KumoError(
        "FN_005",
        "the image has no ENTRYPOINT or CMD for the port bridge to start: add one to the Dockerfile",
      );
    }
    return command;
  }

  #volumeName(): Promise<string> {
    if (!this.#volume) {
      const pending = this.#fillVolume();
      this.#volume = pending;
      pending.catch(() => {
        if (this.#volume === pending) this.#volume = undefined;
      });
    }
    return this.#volume;
  }

  async #fillVolume(): Promise<string> {
    const docker = this.#options.docker;
    let info = await docker
      .getImage(PORT_BRIDGE_IMAGE)
      .inspect()
      .catch(() => undefined);
    if (!info && this.#options.ensureImage) {
      await this.#options.ensureImage();
      info = await docker
        .getImage(PORT_BRIDGE_IMAGE)
        .inspect()
        .catch(() => undefined);
    }
    if (!info) {
      throw new KumoError(
        "FN_008",
        `the port bridge image ${PORT_BRIDGE_IMAGE} is not on this Docker engine; build it with \`node scripts/images.mjs --only container\` from a Kumo checkout`,
      );
    }
    const name = `kumo-port-bridge-${info.Id.replace(/^sha256:/, "").slice(0, 16)}`;
    await docker.createVolume({ Name: name, Labels: { [VOLUME_LABEL]: "1" } });
    // Mounting the (empty) volume over the image's /run/kumo-bridge copies the binary into it; running
    // it (`-version`, the image's CMD) proves the copy in the volume is whole and executable.
    const filler = await docker.createContainer({
      Image: info.Id,
      Labels: { ...this.#options.labels },
      HostConfig: { Binds: [`${name}:${PORT_BRIDGE_DIR}`], NetworkMode: "none" },
    });
    try {
      await filler.start();
      const exit = await filler.wait();
      if (exit.StatusCode !== 0) {
        throw new KumoError("FN_008", `the port bridge in volume ${name} exited with ${exit.StatusCode}`);
      }
    } finally {
      await filler.remove({ force: true }).catch(() => {});
    }
    return name;
  }
}
