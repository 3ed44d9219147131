/**
 * Runs an agent's heartbeat as an HTTP POST to a webhook, with a JSON body
 *   { "agentId": "...", "sessionKey": "..." | null, "reasons": ["interval", ...] }
 * and the configured headers. A 2xx answer is a run; a JSON body, if any, gives the
 * status and usage like a command's JSON line. Anything else fails the run with the
 * HTTP status and the start of the body. The run's signal aborts the request.
 */
import type { RunHeartbeat } from "../index.ts";
import { resultFromJson, resultFromOutput, tail } from "./run-result.ts";

export interface WebhookSpec {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
}

const MAX_BODY = 64 * 1024;

export function webhookRunner(spec: WebhookSpec): RunHeartbeat {
  return async ({ agentId, sessionKey, reasons, signal }) => {
    let res: Response;
    try {
      res = await fetch(spec.url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json", ...spec.headers },
        body: JSON.stringify({ agentId, sessionKey: sessionKey ?? null, reasons }),
        signal,
        redirect: "error",
      });
    } catch (err) {
      if (signal.aborted) throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(`webhook ${spec.url} unreachable: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
    const text = (await res.text()).slice(0, MAX_BODY);
    if (!res.ok) throw new Error(`webhook answered HTTP ${res.status}${text.trim() ? `: ${tail(text, 200)}` : ""}`);
    if (text.trim() === "") return { status: "ran" };
    if ((res.headers.get("content-type") ?? "").includes("json")) {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw new Error(`webhook answered invalid JSON: ${tail(text, 200)}`);
      }
      return resultFromJson(value);
    }
    return resultFromOutput(text);
  };
}
