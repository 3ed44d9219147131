/**
 * The `heartbeat-gateway` command: argument parsing and subcommands, nothing else.
 * The daemon lives in src/host/, the HTTP surface in src/server/.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, type ParseArgsConfig } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;

interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly options: Options;
  readonly positionals?: boolean;
  run(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number>;
}

const HELP = { type: "boolean", short: "h" } as const;

const USAGE = `heartbeat-gateway: supervised, policy-driven periodic heartbeats for AI agents

Usage: heartbeat-gateway <command> [options]

Commands:
  run        run the heartbeat daemon on a config file (HTTP API, live page, SQLite state)
  wake       wake an agent, or all, on a running daemon
  status     show a running daemon's agents and alerts, or one agent's runs
  pause      pause an agent on a running daemon (its due runs are skipped)
  resume     resume a paused agent
  simulate   run the deterministic fleet simulator
  visualize  generate the Mermaid state diagrams in visualizations/ from machines/

Run \`heartbeat-gateway <command> --help\` for a command's options.`;

const commands: Record<string, Command> = {
  run: {
    summary: "run the heartbeat daemon",
    usage: `Usage: heartbeat-gateway run --config <file.yaml|file.json> [options]

Runs every agent of the config file on its schedule: each run is the agent's shell
\`command\` (with AGENT_ID, SESSION_KEY and WAKE_REASONS in its environment) or a POST to
its \`webhook\`. Serves the HTTP API and the live page; prints \`listening on URL\`.
On a terminal it draws a live table; otherwise it logs one JSON line per event.
SIGHUP or a change of the file reloads the config (an invalid file is reported and the
running config kept). SIGINT/SIGTERM stop gracefully; a second signal exits at once.

Options:
  -c, --config <file>    config file, .json, .yaml or .yml (required)
  -p, --port <n>         HTTP port (default 7070, or a free one if 7070 is taken; 0 = any free port)
      --host <addr>      address to bind (default 127.0.0.1)
      --state <path>     SQLite state file (default ./.heartbeat/state.db; unused with \`store: { postgres }\`)
      --owner <id>       this gateway's id in agent leases and run claims (default HEARTBEAT_OWNER_ID, else host:pid:random)
      --inspect          also connect @statelyai/inspect (Stately Sky)
      --inspect-url <ws> connect @statelyai/inspect to a WebSocket inspector server instead
      --no-watch         do not reload when the config file changes (SIGHUP still does)
  -h, --help             show this help

Environment:
  HEARTBEAT_TOKEN        API token for the mutations (wake, pause, resume) when the config has no \`token\`
  HEARTBEAT_LOG_LEVEL    JSON log level without a terminal (default debug: every event)
  HEARTBEAT_OWNER_ID     this gateway's id (see --owner)

Several gateways: give every process the same config with \`store: { postgres: <url> | env:NAME }\`;
each agent is then served by one of them, and taken over when its gateway dies (README, "Several gateways").`,
    options: {
      config: { type: "string", short: "c" },
      port: { type: "string", short: "p" },
      host: { type: "string" },
      state: { type: "string" },
      owner: { type: "string" },
      inspect: { type: "boolean" },
      "inspect-url": { type: "string" },
      "no-watch": { type: "boolean" },
      help: HELP,
    },
    run: (v) => runDaemon(v),
  },
  wake: {
    summary: "wake agents on a running daemon",
    usage: `Usage: heartbeat-gateway wake <agentId> [--reason manual] [--force] [--url URL]
       heartbeat-gateway wake --all [--reason manual] [--url URL]

Asks a running daemon to wake one agent (or every enabled agent). The token comes from
HEARTBEAT_TOKEN. \`manual\` wakes run at once; see the README for other reasons.
A paused agent skips the wake (reason \`paused\`) unless it is forced.

Options:
      --all              wake every enabled agent
  -r, --reason <text>    wake reason (default manual)
      --force            run even if the agent is paused (manual wakes only)
      --url <url>        the daemon (default http://127.0.0.1:7070)
  -h, --help             show this help`,
    options: { all: { type: "boolean" }, reason: { type: "string", short: "r" }, force: { type: "boolean" }, url: { type: "string" }, help: HELP },
    positionals: true,
    run: async (v, pos) => {
      const { wake, DEFAULT_URL } = await import("./host/client.ts");
      if (pos.length > 1) return usageError("wake", `one agent id at a time (got ${pos.length})`);
      const agentId = pos[0];
      if ((agentId === undefined) === (v.all !== true)) return usageError("wake", "give an agent id or --all (not both)");
      const result = await wake({
        url: str(v.url) ?? DEFAULT_URL,
        token: process.env.HEARTBEAT_TOKEN || undefined,
        ...(agentId === undefined ? { all: true } : { agentId }),
        reason: str(v.reason) ?? "manual",
        ...(v.force === true ? { force: true } : {}),
      });
      const paused = new Set(result.paused);
      const woken = result.targets.filter((id) => !paused.has(id));
      if (woken.length > 0 || paused.size === 0) process.stdout.write(`woke ${woken.join(", ")}${v.force === true ? " (forced)" : ""}\n`);
      if (paused.size > 0) {
        process.stdout.write(`paused, so the wake is skipped: ${result.paused.join(", ")} (use --force to run anyway, or \`heartbeat-gateway resume <id>\`)\n`);
      }
      return 0;
    },
  },
  status: {
    summary: "show a running daemon's agents",
    usage: `Usage: heartbeat-gateway status [--json] [--url URL]
       heartbeat-gateway status <agentId> [--runs N] [--json] [--url URL]

Without an agent: every agent's state, next due time, last status, counters and open alerts.
With one: its state, pause, schedule, next due time, the next 5 scheduled runs, and its
last runs with their durations and status.
Exits 0 when no alert is open (for that agent, if one is given), 3 while any is.

Options:
      --runs <n>         how many past runs to show for one agent (default 10, at most 1000)
      --json             print the API's JSON instead of a table
      --url <url>        the daemon (default http://127.0.0.1:7070)
  -h, --help             show this help`,
    options: { runs: { type: "string" }, json: { type: "boolean" }, url: { type: "string" }, help: HELP },
    positionals: true,
    run: async (v, pos) => {
      const client = await import("./host/client.ts");
      const url = str(v.url) ?? client.DEFAULT_URL;
      if (pos.length > 1) return usageError("status", `one agent id at a time (got ${pos.length})`);
      const agentId = pos[0];
      const runsText = str(v.runs);
      if (runsText !== undefined && agentId === undefined) return usageError("status", "--runs needs an agent id");
      if (runsText !== undefined && !(/^\d{1,4}$/.test(runsText) && Number(runsText) >= 1 && Number(runsText) <= 1000)) {
        return usageError("status", `--runs: "${runsText}" is not a number from 1 to 1000`);
      }
      if (agentId !== undefined) {
        const data = await client.agentStatus(url, agentId, { runs: runsText === undefined ? 10 : Number(runsText) });
        if (v.json) process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
        else process.stdout.write(`${client.formatAgentStatus(data)}\n`);
        return data.agent.alerts.length === 0 ? 0 : 3;
      }
      const data = await client.status(url);
      if (v.json) process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
      else process.stdout.write(`${client.formatStatus(data, process.stdout.isTTY === true, process.stdout.columns || 120)}\n`);
      return data.ok ? 0 : 3;
    },
  },
  pause: {
    summary: "pause an agent",
    usage: `Usage: heartbeat-gateway pause <agentId> [--reason "..."] [--url URL]

Pauses one agent on a running daemon: its due runs are recorded as skipped (reason
\`paused\`, no past-due alert) until \`heartbeat-gateway resume <agentId>\`; only
\`wake <agentId> --force\` runs it meanwhile. The pause is stored: it survives a restart.
Pausing an agent that is already paused keeps the first pause and its reason.
The token comes from HEARTBEAT_TOKEN.

Options:
  -r, --reason <text>    why (shown in status, on the page and in the log; at most 256 characters)
      --url <url>        the daemon (default http://127.0.0.1:7070)
  -h, --help             show this help`,
    options: { reason: { type: "string", short: "r" }, url: { type: "string" }, help: HELP },
    positionals: true,
    run: async (v, pos) => {
      const { pause, DEFAULT_URL } = await import("./host/client.ts");
      const agentId = onlyId("pause", pos);
      if (typeof agentId === "number") return agentId;
      const reason = str(v.reason);
      const r = await pause({
        url: str(v.url) ?? DEFAULT_URL,
        token: process.env.HEARTBEAT_TOKEN || undefined,
        agentId,
        ...(reason === undefined ? {} : { reason }),
      });
      const since = new Date(r.paused.since).toLocaleTimeString([], { hour12: false });
      process.stdout.write(r.changed ? `paused ${r.agentId}: ${r.paused.reason}\n` : `${r.agentId} was already paused (since ${since}): ${r.paused.reason}\n`);
      return 0;
    },
  },
  resume: {
    summary: "resume a paused agent",
    usage: `Usage: heartbeat-gateway resume <agentId> [--url URL]

Resumes a paused agent on a running daemon: its next due run is re-armed on its schedule
(slots skipped while it was paused are not made up). The token comes from HEARTBEAT_TOKEN.

Options:
      --url <url>        the daemon (default http://127.0.0.1:7070)
  -h, --help             show this help`,
    options: { url: { type: "string" }, help: HELP },
    positionals: true,
    run: async (v, pos) => {
      const { resume, DEFAULT_URL } = await import("./host/client.ts");
      const { relative } = await import("./host/live-table.ts");
      const agentId = onlyId("resume", pos);
      if (typeof agentId === "number") return agentId;
      const r = await resume({ url: str(v.url) ?? DEFAULT_URL, token: process.env.HEARTBEAT_TOKEN || undefined, agentId });
      const next = r.nextDueAt === undefined ? "" : `; next run ${relative(r.nextDueAt, Date.now())} (${new Date(r.nextDueAt).toLocaleTimeString([], { hour12: false })})`;
      process.stdout.write(r.resumed ? `resumed ${r.agentId}${next}\n` : `${r.agentId} was not paused${next}\n`);
      return 0;
    },
  },
  simulate: {
    summary: "run the fleet simulator",
    usage: `Usage: heartbeat-gateway simulate [simulator options]

Runs the deterministic fleet simulator (src/sim/, the same as \`npm run simulate\`) with
the given options, e.g.
  heartbeat-gateway simulate --agents 50 --days 30 --seeds 100 --faults all
  heartbeat-gateway simulate --seed 17 --faults all       (replay one seed)
Every option goes to the simulator; \`simulate --help\` prints its own list.`,
    options: {},
    run: async () => 0, // handled in main: every argument goes through to the simulator
  },
  visualize: {
    summary: "generate the machine diagrams",
    usage: `Usage: heartbeat-gateway visualize [--check]

Writes visualizations/*.mmd (Mermaid state diagrams) and visualizations/README.md from
the machine definitions in machines/. Never edit those files by hand.

Options:
      --check            write nothing; exit 1 if the committed files differ from what the machines generate
  -h, --help             show this help`,
    options: { check: { type: "boolean" }, help: HELP },
    run: async (v) => visualize(v.check === true),
  },
};

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    const topic = name === "help" ? rest[0] : undefined;
    const cmd = topic === undefined ? undefined : commands[topic];
    process.stdout.write(`${cmd ? cmd.usage : USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  const cmd = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!cmd) {
    process.stderr.write(`heartbeat-gateway: unknown command "${name}"\n\n${USAGE}\n`);
    return 2;
  }
  if (name === "simulate") return simulate(rest);
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    const r = parseArgs({ args: [...rest], options: cmd.options, allowPositionals: cmd.positionals === true, strict: true });
    parsed = { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals };
  } catch (err) {
    return usageError(name, (err as Error).message);
  }
  if (parsed.values.help) {
    process.stdout.write(`${cmd.usage}\n`);
    return 0;
  }
  try {
    return await cmd.run(parsed.values, parsed.positionals);
  } catch (err) {
    process.stderr.write(`heartbeat-gateway ${name}: error: ${err instanceof Error ? err.message : String(err)}\n`);
    return (err as { name?: string }).name === "ConfigFileError" ? 2 : 1;
  }
}

function usageError(name: string, message: string): number {
  process.stderr.write(`heartbeat-gateway ${name}: ${message}\nRun \`heartbeat-gateway ${name} --help\` for usage.\n`);
  return 2;
}

/** The one agent id of a command, or the exit code of its usage error. */
function onlyId(name: string, pos: readonly string[]): string | number {
  if (pos.length === 0) return usageError(name, "give an agent id");
  if (pos.length > 1) return usageError(name, `one agent id at a time (got ${pos.length})`);
  return pos[0] as string;
}

function str(v: string | boolean | undefined): string | undefined {
  return typeof v === "string" ? v : undefined;
}

async function runDaemon(v: Record<string, string | boolean | undefined>): Promise<number> {
  const configPath = str(v.config);
  if (!configPath) return usageError("run", "--config <file> is required");
  const portText = str(v.port);
  if (portText !== undefined && !/^\d{1,5}$/.test(portText)) return usageError("run", `--port: "${portText}" is not a port number`);
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && port > 65_535) return usageError("run", `--port: ${port} is above 65535`);
  const inspectUrl = str(v["inspect-url"]);
  if (inspectUrl !== undefined && !/^wss?:\/\//.test(inspectUrl)) return usageError("run", `--inspect-url: "${inspectUrl}" is not a ws:// URL`);

  // Check the config before loading the daemon (and everything it imports): errors come fast.
  (await import("./host/config-file.ts")).loadConfigFile(configPath);
  const { startDaemon, DEFAULT_PORT } = await import("./host/daemon.ts");
  const { killAllCommands } = await import("./host/command-runner.ts");

  // Signals are handled from the start: one during startup stops the daemon once it is up.
  let daemon: Awaited<ReturnType<typeof startDaemon>> | undefined;
  let signals = 0;
  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((r) => (finish = r));
  const stop = (): void => {
    daemon?.stop().then(
      () => finish(0),
      (err: unknown) => {
        process.stderr.write(`heartbeat-gateway run: error while stopping: ${String(err)}\n`);
        finish(1);
      },
    );
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      process.stderr.write(`second signal (${sig}): exiting now\n`);
      killAllCommands();
      process.exit(130);
    }
    stop();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", () => void daemon?.reload("SIGHUP"));
  process.on("exit", killAllCommands);

  daemon = await startDaemon({
    configPath,
    port: port ?? DEFAULT_PORT,
    portFallback: port === undefined,
    ...(str(v.host) === undefined ? {} : { host: str(v.host) as string }),
    ...(str(v.state) === undefined ? {} : { statePath: str(v.state) as string }),
    ...(str(v.owner) === undefined ? {} : { ownerId: str(v.owner) as string }),
    inspect: inspectUrl ?? v.inspect === true,
    watch: v["no-watch"] !== true,
  });
  if (signals > 0) stop();
  return finished;
}

async function visualize(check: boolean): Promise<number> {
  const { syncVisualizations, VIS_DIR } = await import("./viz/visualize.ts");
  const stale = syncVisualizations(check);
  if (check && stale.length > 0) {
    process.stderr.write(`visualizations are stale (${stale.join(", ")}): run \`heartbeat-gateway visualize\`\n`);
    return 1;
  }
  process.stdout.write(check ? "visualizations up to date\n" : `wrote ${resolve(VIS_DIR)}\n`);
  return 0;
}

/** The fleet simulator is its own script (it forks workers of itself): run it as a child with the same terminal. */
async function simulate(args: readonly string[]): Promise<number> {
  const entry = join(dirname(fileURLToPath(import.meta.url)), "sim", "cli.ts");
  if (!existsSync(entry)) {
    process.stderr.write("heartbeat-gateway simulate: the fleet simulator is not part of this build (src/sim/cli.ts)\n");
    return 2;
  }
  const { spawn } = await import("node:child_process");
  const child = spawn(process.execPath, ["--import", "tsx", entry, ...args], { stdio: "inherit" });
  // Ctrl-C reaches the child through the terminal; don't die before it has finished.
  const ignore = (): void => {};
  process.on("SIGINT", ignore);
  return new Promise((resolve) => {
    child.on("error", (err) => {
      process.stderr.write(`heartbeat-gateway simulate: ${err.message}\n`);
      resolve(1);
    });
    child.on("close", (code, sig) => {
      process.off("SIGINT", ignore);
      resolve(code ?? (sig ? 128 + 2 : 1));
    });
  });
}
