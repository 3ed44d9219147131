/** `wake` and `status`: talk to a running daemon over its HTTP API. */
import type { AgentHealth, Alert } from "../index.ts";
import { renderTable } from "./live-table.ts";

export const DEFAULT_URL = "http://127.0.0.1:7070";

export class ClientError extends Error {
  override readonly name = "ClientError";
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

async function request(base: string, path: string, init: { method?: string; body?: unknown; token?: string | undefined } = {}): Promise<Answer> {
  let url: URL;
  try {
    url = new URL(path, base.endsWith("/") ? base : `${base}/`);
  } catch {
    throw new ClientError(`--url: ${JSON.stringify(base)} is not a URL`);
  }
  const headers: Record<string, string> = { accept: "application/json" };
  if (init.body !== undefined) headers["content-type"] = "application/json";
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method ?? "GET",
      headers,
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new ClientError(`cannot reach the daemon at ${base} (${cause}); is \`heartbeat-gateway run\` running? (--url)`);
  }
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body };
}

function errorOf(a: Answer): string {
  const b = a.body as { error?: unknown } | string;
  if (typeof b === "object" && b !== null && typeof b.error === "string") return b.error;
  return `HTTP ${a.status}${typeof b === "string" && b ? `: ${b.slice(0, 200)}` : ""}`;
}

export interface WakeOptions {
  readonly url: string;
  readonly token: string | undefined;
  readonly agentId?: string;
  readonly all?: boolean;
  readonly reason: string;
}

/** POST /api/wake; resolves to the woken agents' ids. */
export async function wake(o: WakeOptions): Promise<string[]> {
  if (!o.token) throw new ClientError("no token: set HEARTBEAT_TOKEN to the daemon's token (waking needs it)");
  const body = o.all ? { all: true, reason: o.reason } : { agentId: o.agentId, reason: o.reason };
  const a = await request(o.url, "api/wake", { method: "POST", body, token: o.token });
  if (a.status !== 202) throw new ClientError(`wake refused (HTTP ${a.status}): ${errorOf(a)}`);
  return (a.body as { targets: string[] }).targets;
}

export interface StatusData {
  readonly ok: boolean;
  readonly agents: AgentHealth[];
  readonly alerts: Alert[];
}

export async function status(url: string): Promise<StatusData> {
  const a = await request(url, "api/agents");
  if (a.status !== 200) throw new ClientError(`status failed: ${errorOf(a)}`);
  return a.body as StatusData;
}

export function formatStatus(data: StatusData, color: boolean, width = 120): string {
  const lines = renderTable({ agents: data.agents, alerts: data.alerts, now: Date.now(), width, color });
  const head = data.ok ? "ok: no open alerts" : `ALERTING: ${data.alerts.length} open alert(s)`;
  const alerts = data.alerts.map((x) => `  ${x.kind} (${x.agentId}): ${x.message}`);
  return [head, "", ...lines, ...(alerts.length ? ["", "alerts:", ...alerts] : [])].join("\n");
}
