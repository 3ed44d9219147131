import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runAll, runCli } from "./support.ts";

const dir = mkdtempSync(join(tmpdir(), "hb-cli-bad-"));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe("heartbeat-gateway run with a bad config file", () => {
  it("exits 2 before starting anything, naming the file, the field and the problem", async () => {
    const cases: [string, string][] = [
      [file("banana.yaml", "agents:\n  - { id: a, command: x }\n  - { id: b, command: x }\n  - { id: c, every: banana, command: x }\n"), 'agents[2].every: "banana" is not a duration (use e.g. "90s", "30m", "1.5h")'],
      [file("unknown.yaml", "agents: []\nports: 3\n"), "ports: unknown key"],
      [file("agent-key.json", JSON.stringify({ agents: [{ id: "a", command: "x", evry: "5m" }] })), "agents[0].evry: unknown key"],
      [file("no-runner.yaml", "agents:\n  - id: a\n"), 'agents[0]: agent "a" needs a "command" or a "webhook" to run'],
      [file("syntax.yaml", "agents:\n  - id: a\n   command: [\n"), "invalid YAML: line 3, column 1: Sequence item without - indicator"],
      [file("syntax.json", '{\n  "agents": [,]\n}'), "invalid JSON: line 2, column 14: Unexpected token ','"],
      [file("zone.yaml", "agents:\n  - { id: a, command: x, timezone: Mars/Olympus }\n"), 'agents[0].timezone: unknown time zone "Mars/Olympus"'],
      [join(dir, "missing.yaml"), "no such file"],
    ];
    const results = await runAll(cases.map(([path]) => ["run", "--config", path, "--port", "0", "--state", join(dir, "never.db")]));
    results.forEach((r, i) => {
      const [path, problem] = cases[i] as [string, string];
      expect(r.stderr, path).toBe(`heartbeat-gateway run: error: ${path}: ${problem}\n`);
      expect(r.code, path).toBe(2);
      expect(r.stdout, path).toBe("");
    });
  }, 120_000);
});

describe("heartbeat-gateway usage", () => {
  it("has --help on every subcommand", async () => {
    const results = await runAll([["--help"], ["run", "--help"], ["wake", "--help"], ["status", "-h"], ["visualize", "--help"], ["help", "run"]]);
    const [top, run, wake, status, visualize, helpRun] = results;
    for (const r of results) expect(r.code).toBe(0);
    expect(top?.stdout).toMatch(/^heartbeat-gateway: .*\n\nUsage: heartbeat-gateway <command> \[options\]/);
    for (const cmd of ["run", "wake", "status", "simulate", "visualize"]) expect(top?.stdout).toMatch(new RegExp(`^  ${cmd} `, "m"));
    expect(run?.stdout).toMatch(/^Usage: heartbeat-gateway run --config/);
    for (const opt of ["--config", "--port", "--host", "--state", "--inspect", "--no-watch"]) expect(run?.stdout).toContain(opt);
    expect(wake?.stdout).toMatch(/^Usage: heartbeat-gateway wake <agentId> \[--reason manual\]/);
    expect(status?.stdout).toMatch(/^Usage: heartbeat-gateway status \[--json\]/);
    expect(visualize?.stdout).toMatch(/^Usage: heartbeat-gateway visualize \[--check\]/);
    expect(helpRun?.stdout).toBe(run?.stdout);
  }, 120_000);

  it("refuses bad arguments with exit 2 and a pointer to --help", async () => {
    const [none, unknown, noConfig, badPort, both, extra, unknownOpt] = await runAll([
      [],
      ["frobnicate"],
      ["run"],
      ["run", "--config", "x.yaml", "--port", "http"],
      ["wake", "a", "--all"],
      ["wake", "a", "b"],
      ["status", "--colour"],
    ]);
    if (!none || !unknown || !noConfig || !badPort || !both || !extra || !unknownOpt) throw new Error("missing results");
    expect(none.code).toBe(2);
    expect(none.stdout).toContain("Usage: heartbeat-gateway <command>");
    expect(unknown).toMatchObject({ code: 2 });
    expect(unknown.stderr).toMatch(/^heartbeat-gateway: unknown command "frobnicate"/);
    expect(noConfig.stderr).toBe("heartbeat-gateway run: --config <file> is required\nRun `heartbeat-gateway run --help` for usage.\n");
    expect(badPort.stderr).toMatch(/^heartbeat-gateway run: --port: "http" is not a port number\n/);
    expect(both.stderr).toMatch(/^heartbeat-gateway wake: give an agent id or --all \(not both\)\n/);
    expect(extra.stderr).toMatch(/^heartbeat-gateway wake: one agent id at a time \(got 2\)\n/);
    expect(unknownOpt.stderr).toMatch(/^heartbeat-gateway status: Unknown option '--colour'/);
    for (const r of [unknown, noConfig, badPort, both, extra, unknownOpt]) expect(r.code).toBe(2);
  }, 120_000);

  it("says so when no daemon answers, and when the port is taken", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const config = file("ok.yaml", "agents:\n  - { id: a, every: 1h, command: 'true' }\n");
      const [status, taken] = await Promise.all([
        runCli(["status", "--url", `http://127.0.0.1:${port}`.replace(String(port), String(port === 65535 ? 1 : port + 1))]),
        runCli(["run", "--config", config, "--port", String(port), "--state", join(dir, "taken.db")]),
      ]);
      expect(status.code).toBe(1);
      expect(status.stderr).toMatch(/^heartbeat-gateway status: error: cannot reach the daemon at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
      expect(taken.code).toBe(1);
      expect(taken.stderr).toBe(
        `heartbeat-gateway run: error: port ${port} on 127.0.0.1 is already in use (another daemon? use --port, or --port 0 for a free one)\n`,
      );
    } finally {
      blocker.close();
    }
  }, 120_000);

  it("simulate runs the fleet simulator with the options given", async () => {
    const r = await runCli(["simulate", "--agents", "2", "--days", "1", "--seeds", "1", "--jobs", "1"]);
    expect(r.stdout).toMatch(/^seeds: 1, violations: 0$/m);
    expect(r.code).toBe(0);
  }, 120_000);

  it("visualize --check agrees with the committed diagrams", async () => {
    const r = await runCli(["visualize", "--check"]);
    expect(r).toMatchObject({ code: 0, stdout: "visualizations up to date\n" });
  }, 60_000);
});
