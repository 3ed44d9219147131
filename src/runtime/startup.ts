import { andThen } from "../store/maybe.ts";
import type { HeartbeatStore, MaybePromise, StoredAgentState } from "../store/types.ts";
import type { StoreHealth } from "./store-health.ts";

export interface Opened {
  /** This gateway's fencing epoch; undefined while the store cannot be opened (running in memory). */
  readonly epoch: number | undefined;
  readonly stored: Map<string, StoredAgentState>;
}

const IN_MEMORY: Opened = { epoch: undefined, stored: new Map() };

/** Open the store and load what it holds; a store that fails leaves the gateway running in memory. */
export function openStore(store: HeartbeatStore, owner: string, health: StoreHealth): MaybePromise<Opened> {
  const failed = (err: unknown): Opened => {
    health.failed("open", err);
    return IN_MEMORY;
  };
  return andThen<number, Opened>(
    (() => store.open(owner)),
    (epoch) =>
      andThen(
        (() => store.loadAgents()),
        (list): Opened => {
          health.succeeded("open");
          return { epoch, stored: new Map(list.map((s) => [s.agentId, s])) };
        },
        failed,
      ),
    failed,
  );
}
