import type { RunRegistryPort } from "./host.ts";

/**
 * The runs in flight, one per agent, with their abort controllers. An actor that crashes
 * does not stop the run it invoked (its signal never fires), so the supervisor aborts it
 * here: the host is told to stop before the restarted actor starts the next run.
 */
export class RunRegistry implements RunRegistryPort {
  private readonly inFlight = new Map<string, { runId: number; ctl: AbortController }>();

  started(agentId: string, runId: number, ctl: AbortController): void {
    this.inFlight.set(agentId, { runId, ctl });
  }

  ended(agentId: string, runId: number): void {
    if (this.inFlight.get(agentId)?.runId === runId) this.inFlight.delete(agentId);
  }

  abort(agentId: string, runId: number, reason: string): void {
    const run = this.inFlight.get(agentId);
    if (run?.runId !== runId) return;
    this.inFlight.delete(agentId);
    run.ctl.abort(new Error(reason));
  }

  get size(): number {
    return this.inFlight.size;
  }
}
