/**
 * The demo host: a handful of in-memory agents with fast cadences, printing every run,
 * skip, deferral and alert as it happens. Ctrl-C stops it cleanly.
 *
 *   npm start
 */
import { createGateway, type HeartbeatEvent } from "../src/index.ts";

let sessionBusyUntil = 0;
const t0 = Date.now();
const clock = (at: number): string => `+${((at - t0) / 1000).toFixed(1).padStart(6)}s`;

const gateway = createGateway({
  agents: [
    { id: "scout", every: "5s" },
    { id: "writer", every: "8s", sessionKey: "chat-1" },
    { id: "cron-bot", cron: "*/10 * * * * *", timezone: "UTC" },
    // Hangs on every third run: the watchdog aborts it after 3 s.
    { id: "flaky", every: "6s", runTimeout: "3s" },
    { id: "sleeper", every: "0m" },
  ],
  policy: { minSpacingMs: 4_000 },
  lanes: { sessionBusy: (key) => key === "chat-1" && Date.now() < sessionBusyUntil },
  runHeartbeat: async ({ agentId, signal }) => {
    if (agentId === "flaky" && Math.random() < 0.34) {
      // A host call that never settles: only the abort ends it.
      await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
      return { status: "ran" };
    }
    await new Promise((resolve) => setTimeout(resolve, 200 + Math.random() * 600));
    const work = Math.random() < 0.8 ? Math.round(Math.random() * 2_000) : 0;
    return { status: "ran", usage: { inputTokens: work, outputTokens: Math.round(work / 10) } };
  },
  onEvent: (e) => console.log(describe(e)),
  logger: false,
});

function describe(e: HeartbeatEvent): string {
  const head = `${clock(e.at)}  ${e.agentId.padEnd(9)}`;
  switch (e.type) {
    case "run-started":
      return `${head} ▶ run #${e.runId} (${e.reasons.join(", ")})`;
    case "run-finished": {
      const usage = e.usage ? ` tokens=${e.usage.inputTokens + e.usage.outputTokens}` : "";
      const why = e.reason ? ` (${e.reason})` : e.error ? ` (${e.error})` : "";
      return `${head} ■ run #${e.runId} ${e.status} in ${e.durationMs} ms${usage}${why}`;
    }
    case "wake-deferred":
      return `${head} ⏸ deferred: ${e.reason} until ${clock(e.retryAt)} [${e.reasons.join(", ")}]`;
    case "wake-skipped":
      return `${head} ⏭ skipped: ${e.reason} [${e.reasons.join(", ")}]`;
    case "wake-coalesced":
      return `${head} ⧉ coalesced ${e.count} wakes [${e.reasons.join(", ")}]`;
    case "run-settled-late":
      return `${head} ⌛ run #${e.runId} settled late (${e.settled}); not counted`;
    case "agent-paused":
      return `${head} ⏯ paused: ${e.reason}`;
    case "agent-resumed":
      return `${head} ⏯ resumed`;
    case "agent-restarted":
      return `${head} ↻ restarted after crash: ${e.error}`;
    case "alert":
      return `${head} ${e.state === "open" ? "⚠ ALERT" : "✓ resolved"} ${e.kind}: ${e.message}`;
  }
}

// Host activity: background processes finishing (event wakes), a user typing (busy lane), a manual poke.
const activity = [
  setInterval(() => gateway.requestWake({ reason: "exec-event", agentId: "scout" }), 3_000),
  setInterval(() => {
    sessionBusyUntil = Date.now() + 4_000;
    console.log(`${clock(Date.now())}  (host)     chat-1 is streaming a reply for 4 s`);
  }, 20_000),
  setInterval(() => gateway.requestWake({ reason: "manual", agentId: "writer" }), 15_000),
];

gateway.start();
console.log("heartbeat-runtime demo: 5 agents (one disabled). Ctrl-C to stop.\n");

let stopping = false;
const shutdown = async (): Promise<void> => {
  if (stopping) process.exit(1);
  stopping = true;
  for (const t of activity) clearInterval(t);
  await gateway.stop();
  const h = gateway.health();
  console.log(`\nstopped. ${h.agents.map((a) => `${a.id}: ${a.runCount} runs`).join(", ")}`);
  process.exit(0);
};
process.on("SIGINT", () => void shutdown());
process.on("SIGTERM", () => void shutdown());
