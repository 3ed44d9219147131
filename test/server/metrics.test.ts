import { afterEach, describe, expect, it } from "vitest";
import { auth, harness, until, type Harness } from "./support.ts";

let h: Harness;
afterEach(async () => h?.close());

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** A strict reader of the Prometheus text format (0.0.4): every line must parse, every sample have a TYPE. */
function parsePrometheus(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  // Values as Go's ParseFloat reads them (Prometheus' own parser): NaN and Inf in any case.
  const sampleRe = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (-?[0-9.]+(?:e[+-]?\\d+)?|[Nn][Aa][Nn]|[+-][Ii][Nn][Ff])(?: -?\\d+)?$`);
  const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:\\.|[^"\\])*)"(?:,|$)/y;
  expect(text.endsWith("\n")).toBe(true);
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const type = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (type) {
      expect(types.has(type[1] as string), `duplicate TYPE ${type[1]}`).toBe(false);
      types.set(type[1] as string, type[2] as string);
      continue;
    }
    if (new RegExp(`^# HELP ${NAME} .*$`).test(line)) continue;
    const m = sampleRe.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? "";
    labelRe.lastIndex = 0;
    while (labelRe.lastIndex < body.length) {
      const l = labelRe.exec(body);
      if (!l) throw new Error(`bad labels: ${JSON.stringify(line)}`);
      labels[l[1] as string] = l[2] as string;
    }
    const name = m[1] as string;
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, "");
    expect(types.has(family), `sample ${name} has no TYPE`).toBe(true);
    samples.push({ name, labels, value: /nan/i.test(m[3] ?? "") ? Number.NaN : Number(m[3]?.replace(/inf/i, "Infinity")) });
  }
  return { types, samples };
}

const value = (samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe("GET /metrics", () => {
  it("is Prometheus text: runs by status, skips and deferrals by reason, alerts by kind, histograms, agents by state", async () => {
    h = harness({ token: "t" }, { flood: { maxRuns: 1, windowMs: 60_000 } });
    h.results.set("beta", { status: "skipped", reason: "nothing to do" });
    const wake = (payload: object) => h.app.inject({ method: "POST", url: "/api/wake", headers: auth("t"), payload });
    await wake({ agentId: "alpha" });
    await wake({ agentId: "beta" });
    await until(() => h.events.filter((e) => e.type === "run-finished").length === 2);
    await wake({ agentId: "alpha", reason: "hook:wake" }); // a second wake-driven run in the window: held by the flood guard
    await wake({ agentId: "off" }); // disabled: skipped
    await until(() => h.events.some((e) => e.type === "wake-deferred") && h.events.some((e) => e.type === "alert"));

    const res = await h.app.inject("/metrics");
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    const { types, samples } = parsePrometheus(res.body);
    expect(types.get("heartbeat_runs_total")).toBe("counter");
    expect(types.get("heartbeat_run_duration_seconds")).toBe("histogram");
    expect(types.get("heartbeat_wake_to_run_latency_seconds")).toBe("histogram");
    expect(types.get("heartbeat_agents")).toBe("gauge");
    expect(value(samples, "heartbeat_runs_total", { status: "ran" })).toBe(1);
    expect(value(samples, "heartbeat_runs_total", { status: "skipped" })).toBe(1);
    expect(value(samples, "heartbeat_deferrals_total", { reason: "flood" })).toBe(1);
    expect(value(samples, "heartbeat_skips_total", { reason: "disabled" })).toBe(1);
    expect(value(samples, "heartbeat_alerts_total", { kind: "flood" })).toBe(1);
    expect(value(samples, "heartbeat_alerts_open", { kind: "flood" })).toBe(1);
    expect(value(samples, "heartbeat_alerts_open", { kind: "past-due" })).toBe(0);
    expect(value(samples, "heartbeat_run_duration_seconds_count", { status: "ran" })).toBe(1);
    expect(value(samples, "heartbeat_run_duration_seconds_bucket", { status: "ran", le: "+Inf" })).toBe(1);
    expect(value(samples, "heartbeat_wake_to_run_latency_seconds_count")).toBe(2);
    expect(value(samples, "heartbeat_tokens_total", { direction: "input" })).toBe(10);
    expect(value(samples, "heartbeat_agents", { state: "idle" })).toBe(1);
    expect(value(samples, "heartbeat_agents", { state: "deferred" })).toBe(1);
    expect(value(samples, "heartbeat_agents", { state: "stopped" })).toBe(1);
    expect(value(samples, "heartbeat_up")).toBe(0);
    // Its own registry: process metrics only when asked for, and no per-agent series.
    expect(samples.some((s) => s.name.startsWith("process_") || s.name.startsWith("nodejs_"))).toBe(false);
    expect(samples.some((s) => "agent" in s.labels || "agentId" in s.labels)).toBe(false);
  });

  it("counts paused agents, and slots skipped because of a pause", async () => {
    h = harness({ token: "t" });
    const scrape = async () => parsePrometheus((await h.app.inject("/metrics")).body).samples;
    expect(value(await scrape(), "heartbeat_agents_paused")).toBe(0);
    await h.app.inject({ method: "POST", url: "/api/agents/alpha/pause", headers: auth("t"), payload: {} });
    await h.app.inject({ method: "POST", url: "/api/wake", headers: auth("t"), payload: { agentId: "alpha" } });
    await until(() => h.events.some((e) => e.type === "wake-skipped" && e.reason === "paused"));
    const samples = await scrape();
    expect(value(samples, "heartbeat_agents_paused")).toBe(1);
    expect(value(samples, "heartbeat_skips_total", { reason: "paused" })).toBe(1);
  });

  it("keeps each server's metrics apart and includes process metrics by default", async () => {
    h = harness({ token: "t", defaultMetrics: true });
    const other = harness({ token: "t", defaultMetrics: true });
    try {
      await h.app.inject({ method: "POST", url: "/api/wake", headers: auth("t"), payload: { agentId: "alpha" } });
      await until(() => h.events.some((e) => e.type === "run-finished"));
      const mine = parsePrometheus((await h.app.inject("/metrics")).body).samples;
      const theirs = parsePrometheus((await other.app.inject("/metrics")).body).samples;
      expect(value(mine, "heartbeat_runs_total", { status: "ran" })).toBe(1);
      expect(value(theirs, "heartbeat_runs_total", { status: "ran" })).toBeUndefined();
      expect(mine.some((s) => s.name === "process_cpu_seconds_total")).toBe(true);
    } finally {
      await other.close();
    }
  });
});
