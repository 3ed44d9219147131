import { existsSync } from "node:fs";
import type { Lanes } from "../index.ts";
import type { LaneFiles } from "./config-file.ts";

/**
 * Lane probes from files: a lane is busy while its file exists. A chat host that streams
 * a reply touches `<session>.busy` and removes it when done; the heartbeat of that
 * session's agents defers (`session-lane-busy`) meanwhile, and retries with backoff.
 * Reads the current config on every probe, so a reload changes them.
 */
export function fileLanes(current: () => LaneFiles): Lanes {
  return {
    mainBusy: () => {
      const f = current().mainBusyFile;
      return f !== undefined && existsSync(f);
    },
    sessionBusy: (sessionKey) => {
      const f = current().sessionBusyFiles.get(sessionKey);
      return f !== undefined && existsSync(f);
    },
  };
}
