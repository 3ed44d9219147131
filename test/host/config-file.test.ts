import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigFileError, loadConfigFile, parseConfigText } from "../../src/host/config-file.ts";

const dir = mkdtempSync(join(tmpdir(), "hb-config-"));

function errorOf(text: string, file = "heartbeat.config.yaml"): string {
  try {
    parseConfigText(text, file);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigFileError);
    return (err as Error).message;
  }
  throw new Error("expected the config to be rejected");
}

describe("config file", () => {
  it("loads YAML: agents as the library takes them, runners, lanes and token", () => {
    const file = join(dir, "ok.yaml");
    writeFileSync(
      file,
      [
        "token: s3cret",
        "policy: { minSpacingMs: 4000 }",
        "lanes:",
        "  main: { busyFile: main.busy }",
        "  sessions:",
        "    chat-1: { busyFile: .heartbeat/chat-1.busy }",
        "agents:",
        "  - { id: a, every: 5s, command: ./run.sh }",
        "  - id: b",
        "    cron: '*/10 * * * * *'",
        "    sessionKey: chat-1",
        "    webhook: { url: 'http://127.0.0.1:9/hook', headers: { X-Key: k } }",
        "  - { id: c, every: 0m, webhook: 'https://example.invalid/x' }",
      ].join("\n"),
    );
    const cfg = loadConfigFile(file);
    expect(cfg.token).toBe("s3cret");
    expect(cfg.policy).toEqual({ minSpacingMs: 4000 });
    expect(cfg.agents).toEqual([
      { id: "a", every: "5s" },
      { id: "b", cron: "*/10 * * * * *", sessionKey: "chat-1" },
      { id: "c", every: "0m" },
    ]);
    expect(cfg.runners.get("a")).toEqual({ kind: "command", command: "./run.sh", cwd: dir });
    expect(cfg.runners.get("b")).toEqual({ kind: "webhook", url: "http://127.0.0.1:9/hook", headers: { "X-Key": "k" } });
    expect(cfg.runners.get("c")).toMatchObject({ kind: "webhook", url: "https://example.invalid/x" });
    expect(cfg.lanes.mainBusyFile).toBe(join(dir, "main.busy"));
    expect(cfg.lanes.sessionBusyFiles.get("chat-1")).toBe(join(dir, ".heartbeat/chat-1.busy"));
  });

  it("loads JSON the same way", () => {
    const cfg = parseConfigText(JSON.stringify({ agents: [{ id: "a", every: 60_000, command: "true" }] }), "x.json");
    expect(cfg.agents).toEqual([{ id: "a", every: 60_000 }]);
    expect(cfg.token).toBeUndefined();
  });

  it("passes the library's catch-up and jitter fields through, checked by the library", () => {
    const cfg = parseConfigText(
      [
        "agents:",
        "  - { id: a, cron: '0 * * * *', timezone: UTC, jitter: 5m, catchUp: skip, catchUpWindow: 10m, command: x }",
        "  - { id: b, every: 1h, catchUp: once, jitter: 90s, webhook: 'http://127.0.0.1:9/' }",
      ].join("\n"),
      "ops.yaml",
    );
    expect(cfg.agents).toEqual([
      { id: "a", cron: "0 * * * *", timezone: "UTC", jitter: "5m", catchUp: "skip", catchUpWindow: "10m" },
      { id: "b", every: "1h", catchUp: "once", jitter: "90s" },
    ]);
    expect(errorOf("agents:\n  - { id: a, every: 1h, catchUp: sometimes, command: x }")).toMatch(/^heartbeat\.config\.yaml: agents\[0\]\.catchUp: .*"once"\|"skip"/);
    expect(errorOf("agents:\n  - { id: a, every: 1h, catchUpWindow: soon, command: x }")).toBe(
      'heartbeat.config.yaml: agents[0].catchUpWindow: "soon" is not a duration (use e.g. "90s", "30m", "1.5h")',
    );
    expect(errorOf("agents:\n  - { id: a, every: 10m, jitter: 10m, command: x }")).toBe("heartbeat.config.yaml: agents[0].jitter: 10m must be less than every (10m)");
    expect(errorOf("agents:\n  - { id: a, every: 10m, catchup: skip, command: x }")).toBe("heartbeat.config.yaml: agents[0].catchup: unknown key");
  });

  it.each([
    ["agents:\n  - { id: a, command: x }\n  - { id: b, command: x }\n  - { id: c, every: banana, command: x }", 'agents[2].every: "banana" is not a duration (use e.g. "90s", "30m", "1.5h")'],
    ["agents: []\nagentz: []", "agentz: unknown key"],
    ["agents:\n  - { id: a, colour: red, command: x }", "agents[0].colour: unknown key"],
    ["agents:\n  - { id: a }", 'agents[0]: agent "a" needs a "command" or a "webhook" to run'],
    ["agents:\n  - { id: a, command: x, webhook: 'http://h/' }", "agents[0].webhook: cannot be combined with command (give one way to run)"],
    ["agents:\n  - { id: a, webhook: 'ftp://h/' }", 'agents[0].webhook: "ftp://h/" must be an http: or https: URL'],
    ["agents:\n  - { id: a, webhook: { url: nope } }", 'agents[0].webhook.url: "nope" is not a URL'],
    ["agents:\n  - { id: a, command: '' }", "agents[0].command: must not be empty"],
    ["agents:\n  - { id: a, command: x }\n  - { id: a, command: y }", 'agents[1].id: duplicate id "a"'],
    ["agents:\n  - { id: a, command: x, timezone: Mars/Base }", "agents[0].timezone:"],
    ["agents:\n  - { id: a, command: x, activeHours: { start: '25:00', end: '10:00' } }", "agents[0].activeHours.start:"],
    ["agents: {}", "agents: expected an array, got object"],
    ["token: 5\nagents: []", "token: expected a string, got number"],
    ["policy: { flood: { maxRuns: 0, windowMs: 1 } }\nagents: []", "policy.flood.maxRuns: must be >= 1, got 0"],
    ["lanes: { sessions: { chat-9: { busyFile: x } } }\nagents: [{ id: a, command: x, sessionKey: chat-1 }]", 'lanes.sessions["chat-9"]: no agent has sessionKey "chat-9"'],
    ["lanes: { main: { file: x } }\nagents: []", "lanes.main.file: unknown key"],
    ["- just a list", "(top level): expected an object with \"agents\", got array"],
    ["{}", "agents: required"],
  ])("rejects %j with the file, the field path and the problem", (text, message) => {
    expect(errorOf(text)).toContain(`heartbeat.config.yaml: ${message}`);
  });

  it("reports syntax errors with a line and column", () => {
    expect(errorOf("agents:\n  - id: a\n   command: [", "bad.yaml")).toMatch(/^bad\.yaml: invalid YAML: line \d+, column \d+: /);
    expect(errorOf("agents: []\nagents: []", "dup.yaml")).toMatch(/^dup\.yaml: invalid YAML: line 2, column 1: .*unique/i);
    expect(errorOf('{\n  "agents": [,]\n}', "bad.json")).toMatch(/^bad\.json: invalid JSON: line 2, column 14: /);
  });

  it("names a missing file and an unsupported format", () => {
    expect(() => loadConfigFile(join(dir, "missing.yaml"))).toThrow(`${join(dir, "missing.yaml")}: no such file`);
    expect(errorOf("agents = []", "heartbeat.toml")).toBe('heartbeat.toml: unsupported format ".toml" (use .json, .yaml or .yml)');
  });
});
