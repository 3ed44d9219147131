import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { webhookRunner } from "../../src/host/webhook-runner.ts";

const seen: { body: unknown; headers: IncomingMessage["headers"] }[] = [];
let reply: (res: ServerResponse) => void = (res) => res.end();
const server = createServer((req, res) => {
  let text = "";
  req.on("data", (c: Buffer) => (text += c.toString()));
  req.on("end", () => {
    seen.push({ body: JSON.parse(text), headers: req.headers });
    reply(res);
  });
});
let url = "";
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const ctx = (signal = new AbortController().signal) => ({ agentId: "a1", sessionKey: "s1", reasons: ["interval"], signal });

describe("webhook runner", () => {
  it("POSTs agentId, sessionKey and reasons with the configured headers; a JSON answer is the result", async () => {
    reply = (res) => res.setHeader("content-type", "application/json").end('{"status":"ran","usage":{"inputTokens":5,"outputTokens":1}}');
    const result = await webhookRunner({ url, headers: { "x-key": "k1" } })(ctx());
    expect(result).toEqual({ status: "ran", usage: { inputTokens: 5, outputTokens: 1 } });
    const last = seen.at(-1);
    expect(last?.body).toEqual({ agentId: "a1", sessionKey: "s1", reasons: ["interval"] });
    expect(last?.headers["x-key"]).toBe("k1");
    expect(last?.headers["content-type"]).toBe("application/json");
  });

  it("an empty 2xx is a run; a non-2xx fails the run with its status and body", async () => {
    reply = (res) => res.writeHead(204).end();
    await expect(webhookRunner({ url, headers: {} })(ctx())).resolves.toEqual({ status: "ran" });
    reply = (res) => res.writeHead(503).end("overloaded");
    await expect(webhookRunner({ url, headers: {} })(ctx())).rejects.toThrow("webhook answered HTTP 503: overloaded");
  });

  it("aborts the request with the run's signal, and names an unreachable URL", async () => {
    reply = () => {}; // never answers
    const ac = new AbortController();
    const run = webhookRunner({ url, headers: {} })(ctx(ac.signal));
    setTimeout(() => ac.abort(new Error("run timed out")), 50);
    await expect(run).rejects.toThrow("run timed out");
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await expect(webhookRunner({ url: `http://127.0.0.1:${port}/`, headers: {} })(ctx())).rejects.toThrow(
      `webhook http://127.0.0.1:${port}/ unreachable: ECONNREFUSED`,
    );
  });
});
