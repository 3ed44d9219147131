import type { HeartbeatEvent } from "../events.ts";
import type { Clock } from "./clock.ts";
import { Coalescer } from "./coalescer.ts";
import type { HandlerSlot } from "./handler-slot.ts";

/** One coalesced wake on its way to an agent's actor. */
export interface Delivery {
  readonly agentId: string;
  readonly reasons: string[];
  readonly forced: boolean;
}

/**
 * The gateway's coalescer, wired to the delivery handler. A delivery that merged several
 * wakes is recorded once as `wake-coalesced` with how many it merged (not once per merge:
 * a storm of a million wakes emitted a million events, half the cost of `requestWake`,
 * and the metrics summed the running counts 2+3+4+… instead of the wakes merged). A
 * delivery no handler can take (its queue full) is recorded `stopped`, never dropped silently.
 */
export function deliveryCoalescer(clock: Clock, handlers: HandlerSlot<Delivery>, dispatch: (event: HeartbeatEvent) => void): Coalescer {
  return new Coalescer(
    clock,
    (agentId, reasons, count, forced) => {
      if (count > 1) dispatch({ type: "wake-coalesced", agentId, at: clock.now().wall, reasons, count });
      if (!handlers.call({ agentId, reasons, forced })) {
        dispatch({ type: "wake-skipped", agentId, at: clock.now().wall, reason: "stopped", reasons });
      }
    },
    undefined,
  );
}
