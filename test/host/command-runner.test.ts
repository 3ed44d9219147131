import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { commandRunner, runningCommands } from "../../src/host/command-runner.ts";
import { resultFromOutput } from "../../src/host/run-result.ts";

const dir = mkdtempSync(join(tmpdir(), "hb-cmd-"));
const node = JSON.stringify(process.execPath);
const script = (name: string, body: string): string => {
  const file = join(dir, name);
  writeFileSync(file, body);
  return `${node} ${JSON.stringify(file)}`;
};
const ctx = (over: Partial<{ agentId: string; sessionKey: string; reasons: string[]; signal: AbortSignal }> = {}) => ({
  agentId: "a1",
  reasons: ["interval", "manual"],
  signal: new AbortController().signal,
  ...over,
});

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(ok: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("command runner", () => {
  it("passes AGENT_ID, SESSION_KEY and WAKE_REASONS, and reads the last JSON line as the result", async () => {
    const cmd = script(
      "env.mjs",
      `console.log("working…");
       console.log(JSON.stringify({ env: [process.env.AGENT_ID, process.env.SESSION_KEY, process.env.WAKE_REASONS] }).replace("{", "{ "));
       console.log('{"status":"ran","usage":{"inputTokens":12,"outputTokens":3}}');
       require("node:fs").writeFileSync(${JSON.stringify(join(dir, "env.json"))}, JSON.stringify([process.env.AGENT_ID, process.env.SESSION_KEY ?? null, process.env.WAKE_REASONS, process.cwd()]));`.replace(
        "require(\"node:fs\")",
        "(await import('node:fs'))",
      ),
    );
    const run = commandRunner({ command: cmd, cwd: dir });
    await expect(run(ctx({ sessionKey: "chat-1" }))).resolves.toEqual({ status: "ran", usage: { inputTokens: 12, outputTokens: 3 } });
    expect(JSON.parse(readFileSync(join(dir, "env.json"), "utf8"))).toEqual(["a1", "chat-1", "interval,manual", dir]);
    // Without a session key, SESSION_KEY is unset even if the daemon's own environment has one.
    process.env.SESSION_KEY = "leaked";
    try {
      await run(ctx());
    } finally {
      delete process.env.SESSION_KEY;
    }
    expect(JSON.parse(readFileSync(join(dir, "env.json"), "utf8"))[1]).toBeNull();
  });

  it("maps exit 0 without JSON to ran, a skipped line to skipped, and other exits to a failure with stderr", async () => {
    await expect(commandRunner({ command: "echo hello", cwd: dir })(ctx())).resolves.toEqual({ status: "ran" });
    await expect(commandRunner({ command: `echo '{"status":"skipped","reason":"inbox empty"}'`, cwd: dir })(ctx())).resolves.toEqual({
      status: "skipped",
      reason: "inbox empty",
    });
    await expect(commandRunner({ command: "echo boom >&2; exit 3", cwd: dir })(ctx())).rejects.toThrow("command exited with code 3: boom");
    await expect(commandRunner({ command: `echo '{"status":"maybe"}'`, cwd: dir })(ctx())).rejects.toThrow('result status must be "ran" or "skipped", got "maybe"');
    await expect(commandRunner({ command: "definitely-not-a-command-xyz", cwd: dir })(ctx())).rejects.toThrow(/exited with code 127/);
  });

  it("kills the command and its children when the run's signal aborts", async () => {
    const pidFile = join(dir, "pids.txt");
    const cmd = script(
      "hang.mjs",
      `import { spawn } from "node:child_process"; import { writeFileSync } from "node:fs";
       const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
       writeFileSync(${JSON.stringify(pidFile)}, process.pid + " " + child.pid);
       process.on("SIGTERM", () => {}); // ignores SIGTERM: SIGKILL must follow
       setInterval(() => {}, 1000);`,
    );
    const ac = new AbortController();
    const run = commandRunner({ command: cmd, cwd: dir }, { killGraceMs: 300 })(ctx({ signal: ac.signal }));
    await until(() => existsSync(pidFile) && readFileSync(pidFile, "utf8").includes(" "));
    const pids = readFileSync(pidFile, "utf8").split(" ").map(Number);
    ac.abort(new Error("run timed out"));
    await expect(run).rejects.toThrow("run timed out");
    await until(() => pids.every((p) => !alive(p)));
    await until(() => runningCommands() === 0);
  });

  it("does not start when the signal has already aborted", async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(commandRunner({ command: "echo x", cwd: dir })(ctx({ signal: ac.signal }))).rejects.toThrow();
  });
});

describe("run results", () => {
  it("takes the last JSON object line; usage must be two token counts", () => {
    expect(resultFromOutput('{"usage":{"inputTokens":1,"outputTokens":2}}\nbye')).toEqual({ status: "ran", usage: { inputTokens: 1, outputTokens: 2 } });
    expect(resultFromOutput('{"status":"ran"}\n{"status":"skipped"}\n')).toEqual({ status: "skipped", reason: "host-skipped" });
    expect(resultFromOutput("{not json\nplain")).toEqual({ status: "ran" });
    expect(() => resultFromOutput('{"usage":{"inputTokens":-1,"outputTokens":2}}')).toThrow("result usage must be");
  });
});
