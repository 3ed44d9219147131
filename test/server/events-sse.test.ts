import { request, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { auth, harness, until, type Harness } from "./support.ts";

let h: Harness;
afterEach(async () => h?.close());

interface Stream {
  readonly res: IncomingMessage;
  readonly frames: { id?: string; event?: string; data?: unknown }[];
  readonly text: () => string;
  close(): void;
}

async function open(path: string, headers: Record<string, string> = {}): Promise<Stream> {
  const { port } = h.app.server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers }, (res) => {
      let buf = "";
      let all = "";
      const frames: Stream["frames"] = [];
      res.setEncoding("utf8").on("data", (chunk: string) => {
        buf += chunk;
        all += chunk;
        let i: number;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const f: { id?: string; event?: string; data?: unknown } = {};
          for (const line of block.split("\n")) {
            if (line.startsWith("id: ")) f.id = line.slice(4);
            else if (line.startsWith("event: ")) f.event = line.slice(7);
            else if (line.startsWith("data: ")) f.data = JSON.parse(line.slice(6));
          }
          if (f.data !== undefined) frames.push(f);
        }
      });
      resolve({ res, frames, text: () => all, close: () => req.destroy() });
    });
    req.on("error", reject);
    req.end();
  });
}

describe("GET /events", () => {
  it("streams every HeartbeatEvent and the agents' states as server-sent events", async () => {
    h = harness();
    await h.app.listen({ host: "127.0.0.1", port: 0 });
    const s = await open("/events");
    expect(s.res.statusCode).toBe(200);
    expect(s.res.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    await until(() => s.frames.some((f) => f.event === "state"));
    const first = s.frames.find((f) => f.event === "state")?.data as { agents: { id: string; state: string }[] };
    expect(first.agents.map((a) => [a.id, a.state])).toEqual([["alpha", "idle"], ["beta", "idle"], ["off", "stopped"]]);

    await h.app.inject({ method: "POST", url: "/api/wake", headers: auth(), payload: { agentId: "alpha" } });
    await until(() => s.frames.some((f) => (f.data as { type?: string }).type === "run-finished"));
    const events = s.frames.filter((f) => f.event === undefined);
    expect(events.map((f) => (f.data as { type: string }).type)).toEqual(["run-started", "run-finished"]);
    expect(events.map((f) => f.id)).toEqual(events.map((f) => String((f.data as { seq: number }).seq)));
    expect(events[0]?.data).toMatchObject({ type: "run-started", agentId: "alpha", reasons: ["manual"] });
    // The run moved alpha out of idle and back: a state frame followed with its new counters.
    await until(() =>
      s.frames.some((f) => f.event === "state" && (f.data as { agents: { id: string; runCount: number }[] }).agents.some((a) => a.id === "alpha" && a.runCount === 1)),
    );
    s.close();
  });

  it("filters to one agent with ?agent=, resumes after Last-Event-ID, and refuses other queries", async () => {
    h = harness();
    await h.app.listen({ host: "127.0.0.1", port: 0 });
    await h.app.inject({ method: "POST", url: "/api/wake", headers: auth(), payload: { all: true } });
    await until(() => h.events.filter((e) => e.type === "run-finished").length === 2);
    const resumed = await open("/events?agent=beta", { "last-event-id": "1" });
    await until(() => resumed.frames.some((f) => f.event === "state"));
    const replayed = resumed.frames.filter((f) => f.event === undefined).map((f) => f.data as { agentId: string; type: string });
    expect(replayed.length).toBeGreaterThan(0);
    expect(replayed.every((e) => e.agentId === "beta")).toBe(true);
    const state = resumed.frames.find((f) => f.event === "state")?.data as { agents: { id: string }[] };
    expect(state.agents.map((a) => a.id)).toEqual(["beta"]);
    resumed.close();
    expect((await h.app.inject("/events?colour=red")).statusCode).toBe(400);
  });

  it("ends open streams when the server closes, so closing never hangs", async () => {
    h = harness();
    await h.app.listen({ host: "127.0.0.1", port: 0 });
    const a = await open("/events");
    const b = await open("/events");
    const ended = Promise.all([a, b].map((s) => new Promise((r) => s.res.on("end", r))));
    const t0 = Date.now();
    await h.app.close();
    await ended;
    expect(Date.now() - t0).toBeLessThan(2_000);
  });
});
