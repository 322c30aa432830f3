import { describeJsRuntime } from "./js-runtime-suite.ts";

describeJsRuntime("edge");
