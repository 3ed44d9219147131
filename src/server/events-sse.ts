/**
 * GET /events: server-sent events.
 *   (unnamed) message   every HeartbeatEvent as JSON, with `seq`; the SSE id is the seq,
 *                       so a reconnecting EventSource resumes after Last-Event-ID
 *   event: state        agents whose state, schedule or counters changed (the page lights
 *                       the statechart from these), with the open alerts
 * `?agent=<id>` filters both to one agent. A comment ping keeps proxies from closing it.
 */
import type { FastifyInstance } from "fastify";
import type { ServerResponse } from "node:http";
import { z } from "zod";
import type { AgentHealth, Gateway } from "../index.ts";
import { badRequest } from "./errors.ts";
import type { EventLog, LoggedEvent } from "./event-log.ts";

interface Client {
  readonly res: ServerResponse;
  readonly agent: string | undefined;
}

export interface SseOptions {
  /** Keep-alive comment interval. Default 15 s. */
  readonly pingMs?: number;
  /** State snapshots are re-read at least this often while clients are connected. Default 1 s. */
  readonly refreshMs?: number;
}

/** A client this far behind (bytes buffered) is dropped; its EventSource reconnects and resumes. */
const MAX_BUFFERED = 1024 * 1024;
const query = z.strictObject({ agent: z.string().min(1).max(256).optional() });

export function sseRoutes(app: FastifyInstance, gateway: Gateway, log: EventLog, options: SseOptions = {}): void {
  const clients = new Set<Client>();
  let last = new Map<string, string>();
  let refreshQueued = false;

  const send = (c: Client, chunk: string): void => {
    if (c.res.writableLength > MAX_BUFFERED) {
      c.res.destroy();
      clients.delete(c);
      return;
    }
    c.res.write(chunk);
  };

  const stateFrame = (agents: readonly AgentHealth[]): string => {
    const alerts = gateway.health().alerts;
    return `event: state\ndata: ${JSON.stringify({ at: Date.now(), agents, alerts })}\n\n`;
  };

  /** Pushes agents that changed since the last push (machine state, next due, counters). */
  const refresh = (): void => {
    refreshQueued = false;
    if (clients.size === 0) return;
    const h = gateway.health();
    const next = new Map<string, string>();
    const changed: AgentHealth[] = [];
    for (const a of h.agents) {
      const key = keyOf(a);
      next.set(a.id, key);
      if (last.get(a.id) !== key) changed.push(a);
    }
    const removed = [...last.keys()].some((id) => !next.has(id));
    last = next;
    if (changed.length === 0 && !removed) return;
    for (const c of clients) {
      const mine = c.agent === undefined ? changed : changed.filter((a) => a.id === c.agent);
      if (mine.length > 0 || (removed && c.agent === undefined)) send(c, stateFrame(c.agent === undefined ? h.agents : mine));
    }
  };
  const queueRefresh = (): void => {
    if (refreshQueued || clients.size === 0) return;
    refreshQueued = true;
    // After the event's transition has settled, read the machines.
    setImmediate(refresh);
  };

  const unlisten = log.listen((e: LoggedEvent) => {
    const frame = `id: ${e.seq}\ndata: ${JSON.stringify(e)}\n\n`;
    for (const c of clients) if (c.agent === undefined || c.agent === e.agentId) send(c, frame);
    queueRefresh();
  });
  const pingTimer = setInterval(() => {
    for (const c of clients) send(c, `: ping ${Date.now()}\n\n`);
  }, options.pingMs ?? 15_000);
  const refreshTimer = setInterval(refresh, options.refreshMs ?? 1_000);
  pingTimer.unref();
  refreshTimer.unref();

  app.get("/events", async (req, reply) => {
    const q = query.safeParse(req.query);
    if (!q.success) throw badRequest(`query: ${q.error.issues[0]?.message ?? "invalid"} (only ?agent=<id>)`);
    const agent = q.data.agent;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.write("retry: 2000\n\n");
    const client: Client = { res, agent };
    // Resume: replay what the client missed, as far as the log still has it.
    const lastId = Number(req.headers["last-event-id"]);
    if (Number.isInteger(lastId) && lastId > 0) {
      for (const e of log.since(lastId)) {
        if (agent === undefined || e.agentId === agent) res.write(`id: ${e.seq}\ndata: ${JSON.stringify(e)}\n\n`);
      }
    }
    const all = gateway.health().agents;
    res.write(stateFrame(agent === undefined ? all : all.filter((a) => a.id === agent)));
    clients.add(client);
    if (clients.size === 1) last = new Map(all.map((a) => [a.id, keyOf(a)]));
    req.raw.on("close", () => clients.delete(client));
  });

  // Open streams would hold the server open forever: end them when it closes.
  app.addHook("preClose", async () => {
    clearInterval(pingTimer);
    clearInterval(refreshTimer);
    unlisten();
    for (const c of clients) c.res.end();
    clients.clear();
  });
}

/** What counts as a change: next-due times are re-derived on every read, so ms jitter is not one. */
function keyOf(a: AgentHealth): string {
  return JSON.stringify({ ...a, nextDueAt: a.nextDueAt === undefined ? undefined : Math.round(a.nextDueAt / 500) });
}
