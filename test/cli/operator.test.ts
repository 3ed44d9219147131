import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { cli, runAll, runCli, until, withTimeout, type Cli } from "./support.ts";

// Operator controls (issue 11) end to end: the real command on a loopback port, a temp
// SQLite file, real time. `a` runs every 2 s, so a paused slot comes along quickly.

const TOKEN = "op-token";
const AGENT = `console.log(JSON.stringify({ status: "ran", usage: { inputTokens: 3, outputTokens: 1 } }));\n`;

function workspace(): { dir: string; config: string; state: string } {
  const dir = mkdtempSync(join(tmpdir(), "hb-cli-op-"));
  writeFileSync(join(dir, "agent.mjs"), AGENT);
  const config = join(dir, "heartbeat.config.yaml");
  const cmd = `${JSON.stringify(process.execPath)} agent.mjs`;
  const agents = ["id: a, every: 2s", "id: b, cron: '0 * * * *', timezone: UTC, jitter: 5m, catchUp: skip", "id: off, every: 0m"];
  writeFileSync(config, `token: ${TOKEN}\nagents:\n${agents.map((a) => `  - { ${a}, command: '${cmd}' }`).join("\n")}\n`);
  return { dir, config, state: join(dir, "state.db") };
}

async function api(url: string, path: string): Promise<any> {
  return (await fetch(`${url}${path}`)).json();
}

const daemons: Cli[] = [];
afterEach(() => {
  for (const d of daemons.splice(0)) if (d.child.exitCode === null) d.child.kill("SIGKILL");
});

async function start(ws: ReturnType<typeof workspace>): Promise<{ d: Cli; url: string }> {
  const d = cli(["run", "--config", ws.config, "--port", "0", "--state", ws.state, "--no-watch"]);
  daemons.push(d);
  const url = (await d.waitFor(/^listening on (http:\/\/127\.0\.0\.1:\d+)$/m))[1] as string;
  return { d, url };
}

const withToken = { HEARTBEAT_TOKEN: TOKEN };

describe("heartbeat-gateway pause / resume / status <id> / wake --force", () => {
  it("pauses an agent (its slots are skipped), shows it, forces a wake through, keeps the pause across a restart, and resumes", async () => {
    const ws = workspace();
    let { d, url } = await start(ws);
    await until(async () => (await api(url, "/api/agents/a")).runCount >= 1 || undefined);

    const paused = await runCli(["pause", "a", "--reason", "incident 42", "--url", url], withToken);
    expect(paused).toMatchObject({ code: 0, stdout: "paused a: incident 42\n", stderr: "" });
    // Its next slot is skipped with reason `paused` (a run in flight at the pause has finished by then).
    await until(async () => (await api(url, "/api/agents/a")).recent.some((e: any) => e.type === "wake-skipped" && e.reason === "paused") || undefined);
    const pausedAt = (await api(url, "/api/agents/a")).runCount as number;

    const [status, json, plainWake] = await Promise.all([
      runCli(["status", "a", "--url", url]),
      runCli(["status", "a", "--json", "--runs", "3", "--url", url]),
      runCli(["wake", "a", "--url", url], withToken),
    ]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^agent: {5}a\nstate: {5}idle\npaused: {4}since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(.*\): incident 42\n/);
    expect(status.stdout).toMatch(/^schedule: {2}every 2s · timeout 10m$/m);
    expect(status.stdout).toMatch(/^next due: {2}- \(paused\)$/m);
    expect(status.stdout).toContain("upcoming runs (next 0):\n  none while paused (resume to re-arm)\n");
    expect(status.stdout).toMatch(/^last runs \(\d+, newest first\):$/m);
    expect(status.stdout).toMatch(/^ {2}#1 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}ran +[\d.]+ m?s {2}interval +4 tokens$/m);
    const data = JSON.parse(json.stdout);
    expect(data.agent).toMatchObject({ id: "a", paused: { reason: "incident 42" }, schedule: { every: "2s" } });
    expect(data.upcoming).toEqual([]);
    expect(data.runs.length).toBeGreaterThanOrEqual(1);
    expect(data.runs.length).toBeLessThanOrEqual(3);
    expect(data.runs[0]).toMatchObject({ agentId: "a", status: "ran", reasons: ["interval"], durationMs: expect.any(Number) });
    // An unforced wake is skipped (and says so); --force runs it.
    expect(plainWake).toMatchObject({ code: 0, stdout: "paused, so the wake is skipped: a (use --force to run anyway, or `heartbeat-gateway resume <id>`)\n" });
    expect((await api(url, "/api/agents/a")).runCount).toBe(pausedAt);
    const forced = await runCli(["wake", "a", "--force", "--url", url], withToken);
    expect(forced).toMatchObject({ code: 0, stdout: "woke a (forced)\n" });
    await until(async () => ((await api(url, "/api/agents/a/runs?limit=1")).runs[0]?.reasons[0] === "manual" ? true : undefined));
    expect((await api(url, "/api/agents/a")).paused).toMatchObject({ reason: "incident 42" });

    // Errors print the server's message and exit non-zero; nothing changes.
    const [unknown, disabled, wrong, noToken, unknownStatus] = await Promise.all([
      runCli(["pause", "zzz", "--url", url], withToken),
      runCli(["pause", "off", "--url", url], withToken),
      runCli(["resume", "a", "--url", url], { HEARTBEAT_TOKEN: "nope" }),
      runCli(["resume", "a", "--url", url], { HEARTBEAT_TOKEN: "" }),
      runCli(["status", "zzz", "--url", url]),
    ]);
    expect(unknown).toMatchObject({ code: 1, stderr: 'heartbeat-gateway pause: error: pause refused (HTTP 404): unknown agent "zzz"\n' });
    expect(disabled).toMatchObject({ code: 1, stderr: 'heartbeat-gateway pause: error: pause refused (HTTP 409): agent "off" is disabled\n' });
    expect(wrong).toMatchObject({ code: 1, stderr: "heartbeat-gateway resume: error: resume refused (HTTP 401): wrong token\n" });
    expect(noToken).toMatchObject({ code: 1, stderr: "heartbeat-gateway resume: error: no token: set HEARTBEAT_TOKEN to the daemon's token (resuming needs it)\n" });
    expect(unknownStatus).toMatchObject({ code: 1, stderr: 'heartbeat-gateway status: error: status failed (HTTP 404): unknown agent "zzz"\n' });
    expect((await api(url, "/api/agents/a")).paused).toMatchObject({ reason: "incident 42" });

    // A restart on the same state file: still paused, its slots still skipped.
    d.child.kill("SIGTERM");
    expect(await withTimeout(d.exited, 20_000, "graceful stop")).toBe(0);
    ({ d, url } = await start(ws));
    const restored = await api(url, "/api/agents/a");
    expect(restored.paused).toMatchObject({ reason: "incident 42" });
    const runsBefore = restored.runCount as number;
    await until(async () => (await api(url, "/api/agents/a")).recent.some((e: any) => e.type === "wake-skipped" && e.reason === "paused") || undefined);
    expect((await api(url, "/api/agents/a")).runCount).toBe(runsBefore);

    const resumed = await runCli(["resume", "a", "--url", url], withToken);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/^resumed a; next run (now|in \d+s) \(\d\d:\d\d:\d\d\)\n$/);
    await until(async () => (await api(url, "/api/agents/a")).runCount > runsBefore || undefined);
    const after = await runCli(["status", "a", "--url", url]);
    expect(after.code).toBe(0);
    expect(after.stdout).not.toContain("paused:");
    expect(after.stdout).toMatch(/^upcoming runs \(next 5\):\n(  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d  (now|in \d+s)\n){5}/m);
    expect((await runCli(["resume", "a", "--url", url], withToken)).stdout).toMatch(/^a was not paused/);

    d.child.kill("SIGTERM");
    expect(await withTimeout(d.exited, 20_000, "graceful stop")).toBe(0);
  }, 180_000);

  it("has --help, and refuses bad arguments with exit 2", async () => {
    const [pause, resume, status, wake, noId, twoIds, runsAlone, badRuns] = await runAll([
      ["pause", "--help"],
      ["resume", "-h"],
      ["status", "--help"],
      ["wake", "--help"],
      ["pause"],
      ["resume", "a", "b"],
      ["status", "--runs", "5"],
      ["status", "a", "--runs", "0"],
    ]);
    expect(pause).toMatchObject({ code: 0 });
    expect(pause?.stdout).toMatch(/^Usage: heartbeat-gateway pause <agentId> \[--reason "\.\.\."\] \[--url URL\]\n/);
    expect(resume?.stdout).toMatch(/^Usage: heartbeat-gateway resume <agentId> \[--url URL\]\n/);
    expect(status?.stdout).toMatch(/^ {7}heartbeat-gateway status <agentId> \[--runs N\] \[--json\] \[--url URL\]$/m);
    expect(wake?.stdout).toContain("--force");
    expect(noId).toMatchObject({ code: 2, stderr: "heartbeat-gateway pause: give an agent id\nRun `heartbeat-gateway pause --help` for usage.\n" });
    expect(twoIds).toMatchObject({ code: 2 });
    expect(twoIds?.stderr).toMatch(/^heartbeat-gateway resume: one agent id at a time \(got 2\)\n/);
    expect(runsAlone?.stderr).toMatch(/^heartbeat-gateway status: --runs needs an agent id\n/);
    expect(badRuns?.stderr).toMatch(/^heartbeat-gateway status: --runs: "0" is not a number from 1 to 1000\n/);
  }, 120_000);
});
