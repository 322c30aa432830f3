import type Docker from "dockerode";
import { containerLabels } from "./container-labels.ts";

/**
 * On start, a node owns no live instances yet: anything labelled as this node's is left over from a
 * previous run (crash, kill -9) and is removed so it cannot leak. Returns the removed container ids.
 */
export async function reconcileContainers(docker: Docker, nodeId: string): Promise<string[]> {
  const leftovers = await docker.listContainers({
    all: true,
    filters: { label: [`${containerLabels.managed}=true`, `${containerLabels.node}=${nodeId}`] },
  });
  const removed: string[] = [];
  for (const info of leftovers) {
    await docker.getContainer(info.Id).remove({ force: true });
    removed.push(info.Id);
  }
  return removed;
}
