#!/usr/bin/env node
// The CLI is written in TypeScript and run from source: tsx compiles it on load.
import { register } from "tsx/esm/api";

register();
await import("../src/bin.ts");
