import type { Gateway, HeartbeatEvent } from "../index.ts";

/** A HeartbeatEvent as the server hands it out: with a sequence number (SSE ids, ordering). */
export type LoggedEvent = HeartbeatEvent & { readonly seq: number };

/**
 * The last N events of every agent, kept by subscribing to the gateway (the runtime keeps
 * state, not history). Bounded per agent; an agent removed by a reload keeps its history
 * until it has been gone for `maxAgents` newer agents.
 */
export class EventLog {
  private readonly byAgent = new Map<string, LoggedEvent[]>();
  private readonly listeners = new Set<(e: LoggedEvent) => void>();
  private seq = 0;
  private readonly unsubscribe: () => void;

  constructor(
    gateway: Gateway,
    private readonly perAgent = 200,
    private readonly maxAgents = 10_000,
  ) {
    this.unsubscribe = gateway.subscribe((e) => this.add(e));
  }

  private add(event: HeartbeatEvent): void {
    const logged: LoggedEvent = { ...event, seq: ++this.seq };
    let list = this.byAgent.get(event.agentId);
    if (!list) {
      if (this.byAgent.size >= this.maxAgents) {
        const oldest = this.byAgent.keys().next().value;
        if (oldest !== undefined) this.byAgent.delete(oldest);
      }
      list = [];
      this.byAgent.set(event.agentId, list);
    }
    list.push(logged);
    if (list.length > this.perAgent) list.splice(0, list.length - this.perAgent);
    for (const l of this.listeners) l(logged);
  }

  /** The agent's last `limit` events, oldest first. */
  recent(agentId: string, limit = this.perAgent): LoggedEvent[] {
    const list = this.byAgent.get(agentId) ?? [];
    return limit >= list.length ? [...list] : list.slice(list.length - limit);
  }

  /** Events with seq > after, across agents, oldest first (SSE resume with Last-Event-ID). */
  since(after: number): LoggedEvent[] {
    const out: LoggedEvent[] = [];
    for (const list of this.byAgent.values()) for (const e of list) if (e.seq > after) out.push(e);
    return out.sort((a, b) => a.seq - b.seq);
  }

  get lastSeq(): number {
    return this.seq;
  }

  listen(listener: (e: LoggedEvent) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  close(): void {
    this.unsubscribe();
    this.listeners.clear();
  }
}
