// The recorder moved to @kumo/db so autoscalers write records and logs the same way.
export { Recorder, type RecorderOptions } from "@kumo/db";
