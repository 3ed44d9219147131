import type { Alert, HeartbeatEvent } from "../events.ts";

type AlertEvent = Extract<HeartbeatEvent, { type: "alert" }>;

/** Open alerts, by agent and kind. An alert stays open until its episode's `resolved` event. */
export class AlertBook {
  private readonly open = new Map<string, Alert>();

  apply(e: AlertEvent): boolean {
    const key = `${e.agentId}\u0000${e.kind}`;
    if (e.state === "open") {
      if (this.open.has(key)) return false;
      this.open.set(key, { kind: e.kind, agentId: e.agentId, since: e.at, message: e.message });
      return true;
    }
    return this.open.delete(key);
  }

  forAgent(agentId: string): Alert[] {
    return this.list().filter((a) => a.agentId === agentId);
  }

  list(): Alert[] {
    return [...this.open.values()];
  }

  get size(): number {
    return this.open.size;
  }
}
