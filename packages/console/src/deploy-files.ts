import { type Api, seg } from "./api.ts";
import type { Deployment } from "./types.ts";

/**
 * Deploys `files` as a new version of the function and waits for the outcome: edge deploys finish
 * before the POST answers, container builds take a while, so their status is polled (each poll is
 * reported through `progress`). Shared by the code editor and the settings form.
 */
export async function deployFiles(
  api: Api,
  functionName: string,
  files: Record<string, string>,
  progress: (status: Deployment) => void,
): Promise<Deployment> {
  const base = `/v1/functions/${seg(functionName)}/deployments`;
  const started = await api.send<Deployment>("POST", base, { files });
  let status = await api.get<Deployment>(`${base}/${seg(started.id)}`);
  while (status.status === "queued" || status.status === "building") {
    progress(status);
    await new Promise((r) => setTimeout(r, 1000));
    status = await api.get<Deployment>(`${base}/${seg(started.id)}`);
  }
  progress(status);
  return status;
}
