export {
  DEFAULT_SOURCE_LIMITS,
  normalizeSourcePath,
  readSourceArchive,
  type SourceFiles,
  type SourceLimits,
} from "./read-source-archive.ts";
export { sourceDigest } from "./source-digest.ts";
