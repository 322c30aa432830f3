export {
  chooseRuntime,
  DETECTABLE_RUNTIMES,
  type DetectedRuntime,
  detectRuntime,
  type RuntimeDetection,
} from "./detect-runtime.ts";
export { packSourceArchive } from "./pack-source-archive.ts";
export {
  DEFAULT_SOURCE_LIMITS,
  normalizeSourcePath,
  readSourceArchive,
  type SourceFiles,
  type SourceLimits,
} from "./read-source-archive.ts";
export { sourceDigest } from "./source-digest.ts";
