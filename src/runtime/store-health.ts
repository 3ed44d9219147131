import type { HeartbeatEvent } from "../events.ts";
import { alertMessage } from "../policy/alerts.ts";
import { errorMessage } from "../policy/outcome.ts";
import type { Clock } from "./clock.ts";

/** Gateway-level alerts use this agentId: they concern every agent. */
export const ALL_AGENTS = "*";

/** What the gateway asks of its store, each failing and recovering on its own. */
export type StoreChannel = "open" | "state" | "claims" | "reaper" | "history" | "leases";

/**
 * One `store-unavailable` episode for the whole gateway: opened by the first failure on
 * any channel, resolved only when every channel that failed has succeeded since (a claim
 * that works while saves still fail does not end it). The gateway runs in memory meanwhile.
 */
export class StoreHealth {
  private readonly failing = new Map<StoreChannel, string>();
  private open = false;

  constructor(
    private readonly clock: Clock,
    private readonly dispatch: (e: HeartbeatEvent) => void,
    private readonly location: string,
  ) {}

  get ok(): boolean {
    return !this.open;
  }

  failed(channel: StoreChannel, err: unknown): void {
    const detail = errorMessage(err);
    this.failing.set(channel, detail);
    if (this.open) return;
    this.open = true;
    this.dispatch({
      type: "alert",
      agentId: ALL_AGENTS,
      at: this.clock.now().wall,
      kind: "store-unavailable",
      state: "open",
      message: `${alertMessage("store-unavailable", "every agent")} (${detail.startsWith(this.location) ? detail : `${this.location}: ${detail}`})`,
    });
  }

  succeeded(channel: StoreChannel): void {
    if (!this.failing.delete(channel) || this.failing.size > 0 || !this.open) return;
    this.open = false;
    this.dispatch({
      type: "alert",
      agentId: ALL_AGENTS,
      at: this.clock.now().wall,
      kind: "store-unavailable",
      state: "resolved",
      message: `the store ${this.location} is available again`,
    });
  }
}
