// node:stream/promises: readable-stream's promise forms of pipeline and finished.
import stream from "readable-stream";

export const { pipeline, finished } = stream.promises;
export default stream.promises;
