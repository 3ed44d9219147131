import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { alive, cli, runCli, until, withTimeout, type Cli } from "./support.ts";

// Process-level tests: the real command on a loopback port, a temp SQLite file, real time.

const TOKEN = "cli-token";
const AGENT = `import { appendFileSync, writeFileSync } from "node:fs";
const { AGENT_ID, SESSION_KEY = "", WAKE_REASONS } = process.env;
appendFileSync("runs.log", AGENT_ID + "|" + SESSION_KEY + "|" + WAKE_REASONS + "\\n");
if (AGENT_ID === "hanger") {
  writeFileSync("hanger.pid", String(process.pid));
  setInterval(() => {}, 1000);
} else {
  console.log(JSON.stringify({ status: "ran", usage: { inputTokens: 3, outputTokens: 1 } }));
}
`;

function workspace(): { dir: string; config: string; write(agents: string[], extra?: string): void } {
  const dir = mkdtempSync(join(tmpdir(), "hb-cli-"));
  writeFileSync(join(dir, "agent.mjs"), AGENT);
  const config = join(dir, "heartbeat.config.yaml");
  const cmd = `${JSON.stringify(process.execPath)} agent.mjs`;
  const write = (agents: string[], extra = ""): void =>
    writeFileSync(config, `token: ${TOKEN}\n${extra}agents:\n${agents.map((a) => `  - { ${a}, command: '${cmd}' }`).join("\n")}\n`);
  write(["id: a, every: 1h, sessionKey: s1", "id: b, every: 2s", "id: hanger, every: 1h"]);
  return { dir, config, write };
}

async function api(url: string, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${path}`);
  return { status: res.status, body: await res.json() };
}

const daemons: Cli[] = [];
afterEach(() => {
  for (const d of daemons.splice(0)) if (d.child.exitCode === null) d.child.kill("SIGKILL");
});

function start(args: string[], env: NodeJS.ProcessEnv = {}): Cli {
  const d = cli(["run", ...args], { env });
  daemons.push(d);
  return d;
}

describe("heartbeat-gateway run", () => {
  it("runs agents, answers status and wake, reloads on SIGHUP, stops on SIGINT, and keeps its state in SQLite", async () => {
    const ws = workspace();
    const state = join(ws.dir, "state", "state.db");
    const d = start(["--config", ws.config, "--port", "0", "--state", state, "--no-watch"]);
    const url = (await d.waitFor(/^listening on (http:\/\/127\.0\.0\.1:\d+)$/m))[1] as string;
    expect(existsSync(state)).toBe(true);

    // status: every agent, as JSON and as a table
    const status = await runCli(["status", "--json", "--url", url]);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).agents.map((a: { id: string }) => a.id)).toEqual(["a", "b", "hanger"]);
    const table = await runCli(["status", "--url", url]);
    expect(table.stdout).toMatch(/^ok: no open alerts/);
    expect(table.stdout).toMatch(/^AGENT\s+STATE\s+NEXT DUE/m);
    expect(table.stdout).toMatch(/^a\s+idle\s+in \d+[sm]\s+-\s+0\s+0\s+-$/m);

    // wake: with the token, the command runs with AGENT_ID, SESSION_KEY and WAKE_REASONS
    const woke = await runCli(["wake", "a", "--url", url], { HEARTBEAT_TOKEN: TOKEN });
    expect(woke).toMatchObject({ code: 0, stdout: "woke a\n" });
    await until(async () => (await api(url, "/api/agents/a")).body.runCount === 1 || undefined);
    expect(readFileSync(join(ws.dir, "runs.log"), "utf8")).toContain("a|s1|manual\n");
    const a = (await api(url, "/api/agents/a")).body;
    expect(a.recent.at(-1)).toMatchObject({ type: "run-finished", status: "ran", usage: { inputTokens: 3, outputTokens: 1 } });
    // b runs on its own schedule
    await until(() => readFileSync(join(ws.dir, "runs.log"), "utf8").includes("b||interval\n") || undefined);

    const noToken = await runCli(["wake", "a", "--url", url], { HEARTBEAT_TOKEN: "" });
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toBe("heartbeat-gateway wake: error: no token: set HEARTBEAT_TOKEN to the daemon's token (waking needs it)\n");
    const wrong = await runCli(["wake", "--all", "--url", url], { HEARTBEAT_TOKEN: "nope" });
    expect(wrong).toMatchObject({ code: 1, stderr: "heartbeat-gateway wake: error: wake refused (HTTP 401): wrong token\n" });
    const unknown = await runCli(["wake", "zzz", "--url", url], { HEARTBEAT_TOKEN: TOKEN });
    expect(unknown.stderr).toBe('heartbeat-gateway wake: error: wake refused (HTTP 404): agentId: unknown agent "zzz"\n');

    // SIGHUP: the new file is applied...
    ws.write(["id: a, every: 1h, sessionKey: s1", "id: b, every: 2s", "id: hanger, every: 1h", "id: c, every: 1h"]);
    d.child.kill("SIGHUP");
    await d.waitFor(/"msg":"config reloaded \(SIGHUP\): added c"/);
    expect((await api(url, "/api/agents")).body.agents.map((x: { id: string }) => x.id)).toEqual(["a", "b", "hanger", "c"]);
    // ...an invalid one is reported and the running config kept
    ws.write(["id: a, every: 1h", "id: b, every: banana"]);
    d.child.kill("SIGHUP");
    const failed = JSON.parse((await d.waitFor(/^\{.*"config reload \(SIGHUP\) failed.*$/m))[0]);
    expect(failed.level).toBe(50); // error
    expect(failed.msg).toBe(
      `config reload (SIGHUP) failed; keeping the running config: ${ws.config}: agents[1].every: "banana" is not a duration (use e.g. "90s", "30m", "1.5h")`,
    );
    expect((await api(url, "/api/agents")).body.agents.map((x: { id: string }) => x.id)).toEqual(["a", "b", "hanger", "c"]);

    // SIGINT: runs in flight are aborted (the command is killed), state flushed, exit 0
    await runCli(["wake", "hanger", "--url", url], { HEARTBEAT_TOKEN: TOKEN });
    const pidFile = join(ws.dir, "hanger.pid");
    const pid = await until(() => (existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8")) || undefined : undefined));
    expect(alive(pid)).toBe(true);
    d.child.kill("SIGINT");
    expect(await withTimeout(d.exited, 20_000, "graceful stop")).toBe(0);
    await until(() => !alive(pid) || undefined, 5_000);
    expect(d.stdout()).toMatch(/"agentId":"hanger".*"status":"aborted"/);
    expect(d.stdout()).toMatch(/"msg":"stopped"/);

    // The same state file after a restart: nothing was lost
    ws.write(["id: a, every: 1h, sessionKey: s1", "id: b, every: 2s"]);
    const again = start(["--config", ws.config, "--port", "0", "--state", state, "--no-watch"]);
    const url2 = (await again.waitFor(/^listening on (http:\/\/\S+)$/m))[1] as string;
    const restored = (await api(url2, "/api/agents/a")).body;
    expect(restored.runCount).toBe(1);
    expect(restored.lastStatus).toBe("ran");
    again.child.kill("SIGTERM");
    expect(await withTimeout(again.exited, 20_000, "graceful stop")).toBe(0);
  }, 120_000);

  it("reloads when the config file changes", async () => {
    const ws = workspace();
    const d = start(["--config", ws.config, "--port", "0", "--state", join(ws.dir, "s.db")]);
    const url = (await d.waitFor(/^listening on (\S+)$/m))[1] as string;
    ws.write(["id: a, every: 1h", "id: z, every: 1h"]);
    await d.waitFor(/"msg":"config reloaded \(file changed\): removed b, hanger; changed a; added z"|"msg":"config reloaded \(file changed\): added z; removed b, hanger; changed a"/);
    expect((await api(url, "/api/agents")).body.agents.map((x: { id: string }) => x.id)).toEqual(["a", "z"]);
    d.child.kill("SIGTERM");
    expect(await withTimeout(d.exited, 20_000, "stop")).toBe(0);
  }, 60_000);

  it("exits at once on a second signal", async () => {
    const ws = workspace();
    const d = start(["--config", ws.config, "--port", "0", "--state", join(ws.dir, "s.db"), "--no-watch"]);
    await d.waitFor(/^listening on/m);
    d.child.kill("SIGINT");
    d.child.kill("SIGTERM");
    const code = await withTimeout(d.exited, 20_000, "exit");
    // Either the second signal caught the stop in progress (130), or the stop had already finished (0).
    expect([0, 130]).toContain(code);
    if (code === 130) expect(d.stderr()).toContain("second signal (SIGTERM): exiting now");
  }, 60_000);
});
