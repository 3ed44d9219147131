import type { HeartbeatEvent } from "../events.ts";
import { alertMessage } from "../policy/alerts.ts";
import { errorMessage } from "../policy/outcome.ts";
import type { Clock } from "./clock.ts";

/** Gateway-level alerts use this agentId: they concern every agent. */
export const ALL_AGENTS = "*";

/**
 * One `store-unavailable` episode for the whole gateway: opened by the first failure,
 * resolved by the first success after it. The gateway keeps running in memory meanwhile.
 */
export class StoreHealth {
  private failing: string | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly dispatch: (e: HeartbeatEvent) => void,
    private readonly location: string,
  ) {}

  get ok(): boolean {
    return this.failing === undefined;
  }

  failed(err: unknown): void {
    const detail = errorMessage(err);
    if (this.failing !== undefined) return;
    this.failing = detail;
    this.dispatch({
      type: "alert",
      agentId: ALL_AGENTS,
      at: this.clock.now().wall,
      kind: "store-unavailable",
      state: "open",
      message: `${alertMessage("store-unavailable", "every agent")} (${detail.startsWith(this.location) ? detail : `${this.location}: ${detail}`})`,
    });
  }

  succeeded(): void {
    if (this.failing === undefined) return;
    this.failing = undefined;
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
