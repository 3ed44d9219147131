/**
 * `heartbeat-gateway run`: a gateway on a config file, its state on SQLite, its HTTP API
 * and page, a live table on a terminal (JSON log lines otherwise), and reloads on SIGHUP
 * or a change of the file. Signals are handled by the CLI; this is the part tests drive.
 */
import type { FastifyInstance } from "fastify";
import { watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import { pino, type Logger } from "pino";
import { ConfigError } from "../errors.ts";
import { createGateway, type Gateway, type HeartbeatStore, type RunHeartbeat } from "../index.ts";
import { createServer } from "../server/app.ts";
import { commandRunner } from "./command-runner.ts";
import { ConfigFileError, loadConfigFile, type DaemonConfig, type RunSpec } from "./config-file.ts";
import { attachInspector, type AttachedInspector } from "./inspect.ts";
import { fileLanes } from "./lanes.ts";
import { openDaemonStore } from "./store-config.ts";
import { describeEvent, LiveTable } from "./live-table.ts";
import { webhookRunner } from "./webhook-runner.ts";

export const DEFAULT_PORT = 7070;
export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_STATE = "./.heartbeat/state.db";

export interface DaemonOptions {
  readonly configPath: string;
  readonly port?: number;
  /** When the default port is taken, listen on a free one instead of failing. */
  readonly portFallback?: boolean;
  readonly host?: string;
  readonly statePath?: string;
  /** Connect @statelyai/inspect: true for Stately Sky, or a ws:// URL. */
  readonly inspect?: boolean | string;
  /** Reload when the config file changes. Default true. */
  readonly watch?: boolean;
  readonly stdout?: NodeJS.WriteStream;
  /** Draw the live table (default: stdout is a TTY). */
  readonly tty?: boolean;
  readonly env?: NodeJS.ProcessEnv;
  /** This gateway's id in leases and claims (several gateways on one Postgres). Default HEARTBEAT_OWNER_ID, else host:pid:random. */
  readonly ownerId?: string;
}

export type ReloadResult = { ok: true; summary: string } | { ok: false; error: string };

export interface Daemon {
  readonly url: string;
  readonly gateway: Gateway;
  readonly app: FastifyInstance;
  config(): DaemonConfig;
  reload(trigger?: string): Promise<ReloadResult>;
  stop(): Promise<void>;
}

interface Reporter {
  info(msg: string, data?: object): void;
  error(msg: string, data?: object): void;
}

export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const env = options.env ?? process.env;
  const out = options.stdout ?? process.stdout;
  const tty = options.tty ?? out.isTTY === true;
  const statePath = options.statePath ?? DEFAULT_STATE;
  let config = loadConfigFile(options.configPath); // throws ConfigFileError: nothing started yet

  const logger: Logger | undefined = tty
    ? undefined
    : pino({ name: "heartbeat-gateway", level: env.HEARTBEAT_LOG_LEVEL ?? "debug" }, pino.destination({ dest: 1, sync: true }));
  let table: LiveTable | undefined;
  const reporter: Reporter = logger
    ? { info: (msg, data) => logger.info(data ?? {}, msg), error: (msg, data) => logger.error(data ?? {}, msg) }
    : { info: (msg) => table?.note(msg), error: (msg) => table?.note(`\x1b[31m${msg}\x1b[0m`) };

  let runners = buildRunners(config.runners);
  const runHeartbeat: RunHeartbeat = (ctx) => {
    const run = runners.get(ctx.agentId);
    if (!run) return Promise.reject(new Error(`agent "${ctx.agentId}" has no command or webhook`));
    return run(ctx);
  };
  const ownerId = options.ownerId ?? env.HEARTBEAT_OWNER_ID;
  let store: HeartbeatStore;
  try {
    store = openDaemonStore(config.store, statePath, env);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigFileError(options.configPath, err.field, err.problem);
    throw err;
  }
  const gateway = createGateway({
    agents: config.agents,
    ...(config.policy === undefined ? {} : { policy: config.policy }),
    runHeartbeat,
    lanes: fileLanes(() => config.lanes),
    store,
    ...(ownerId ? { ownerId } : {}),
    logger: logger ?? false,
  });

  let inspector: AttachedInspector | undefined;
  if (options.inspect) {
    inspector = await attachInspector(gateway, typeof options.inspect === "string" ? options.inspect : undefined, (err) =>
      reporter.error(`inspector: ${err.message}`),
    );
  }
  gateway.start();

  const app = createServer(gateway, {
    token: () => config.token ?? (env.HEARTBEAT_TOKEN || undefined),
    agents: () => config.agents,
  });
  const host = options.host ?? DEFAULT_HOST;
  let url: string;
  const port = options.port ?? DEFAULT_PORT;
  try {
    url = await listen(app, host, port, options.portFallback ?? false);
  } catch (err) {
    await gateway.stop();
    throw err;
  }

  let reloads: Promise<ReloadResult> = Promise.resolve({ ok: true, summary: "" });
  const reload = (trigger = "reload"): Promise<ReloadResult> => {
    const run = async (): Promise<ReloadResult> => {
      let next: DaemonConfig;
      try {
        next = loadConfigFile(options.configPath);
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        reporter.error(`config reload (${trigger}) failed; keeping the running config: ${error}`, { trigger, error });
        return { ok: false, error };
      }
      if (JSON.stringify(next.store) !== JSON.stringify(config.store)) {
        reporter.error("config reload: `store` changes take effect on restart; the running store is kept");
      }
      if (JSON.stringify(next.policy) !== JSON.stringify(config.policy)) {
        reporter.error("config reload: `policy` changes take effect on restart; the running policy is kept");
      }
      // Runs already started keep their runner; new runs use the new one once the reload is in.
      const nextRunners = buildRunners(next.runners);
      const previous = runners;
      runners = new Map([...previous, ...nextRunners]);
      try {
        await gateway.reload(next.agents);
      } catch (err) {
        runners = previous;
        const error = `${options.configPath}: ${err instanceof Error ? err.message : String(err)}`;
        reporter.error(`config reload (${trigger}) failed; keeping the running config: ${error}`, { trigger, error });
        return { ok: false, error };
      }
      const summary = diffSummary(config, next);
      runners = nextRunners;
      config = next;
      reporter.info(`config reloaded (${trigger}): ${summary}`, { trigger });
      return { ok: true, summary };
    };
    reloads = reloads.then(run, run);
    return reloads;
  };

  const watcher = options.watch === false ? undefined : watchFile(options.configPath, () => void reload("file changed"));

  if (tty) {
    table = new LiveTable(out, {
      title: () => `heartbeat-gateway  ${url}  ·  ${basename(options.configPath)}  ·  state ${config.store ? (config.store.shared === false ? "postgres" : "postgres, shared") : statePath}  ·  Ctrl-C to stop`,
      health: () => gateway.health(),
    });
    gateway.subscribe((e) => {
      if (e.type !== "wake-coalesced" && e.type !== "run-started") table?.note(describeEvent(e));
    });
  }
  out.write(`listening on ${url}\n`);
  if (port !== 0 && !url.endsWith(`:${port}`)) reporter.info(`port ${port} was taken: listening on ${url} instead`);
  if (inspector) reporter.info(inspector.description);
  table?.start();

  let stopping: Promise<void> | undefined;
  return {
    url,
    gateway,
    app,
    config: () => config,
    reload,
    stop() {
      stopping ??= (async () => {
        watcher?.close();
        reporter.info("stopping: aborting runs in flight, flushing state");
        await gateway.stop();
        await app.close();
        inspector?.stop();
        reporter.info("stopped");
        table?.stop();
      })();
      return stopping;
    },
  };
}

function buildRunners(specs: ReadonlyMap<string, RunSpec>): Map<string, RunHeartbeat> {
  const out = new Map<string, RunHeartbeat>();
  for (const [id, spec] of specs) out.set(id, spec.kind === "command" ? commandRunner(spec) : webhookRunner(spec));
  return out;
}

async function listen(app: FastifyInstance, host: string, port: number, fallback: boolean): Promise<string> {
  try {
    await app.listen({ host, port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE" && fallback && port !== 0) {
      await app.listen({ host, port: 0 });
    } else if (code === "EADDRINUSE") {
      throw new Error(`port ${port} on ${host} is already in use (another daemon? use --port, or --port 0 for a free one)`);
    } else {
      throw err;
    }
  }
  const addr = app.server.address();
  if (addr === null || typeof addr === "string") throw new Error("the server has no TCP address");
  const h = addr.address.includes(":") ? `[${addr.address}]` : addr.address;
  return `http://${h}:${addr.port}`;
}

/** Watches the file's folder (editors replace files rather than write them in place). */
function watchFile(path: string, onChange: () => void): FSWatcher | undefined {
  let timer: NodeJS.Timeout | undefined;
  try {
    const w = watch(dirname(path), (_event, name) => {
      if (name !== null && name !== basename(path)) return;
      clearTimeout(timer);
      timer = setTimeout(onChange, 300);
    });
    w.on("error", () => w.close());
    const close = w.close.bind(w);
    w.close = () => {
      clearTimeout(timer);
      close();
    };
    return w;
  } catch {
    return undefined;
  }
}

function diffSummary(before: DaemonConfig, after: DaemonConfig): string {
  const old = new Map(before.agents.map((a) => [a.id, JSON.stringify([a, before.runners.get(a.id)])]));
  const now = new Map(after.agents.map((a) => [a.id, JSON.stringify([a, after.runners.get(a.id)])]));
  const added = [...now.keys()].filter((id) => !old.has(id));
  const removed = [...old.keys()].filter((id) => !now.has(id));
  const changed = [...now.keys()].filter((id) => old.has(id) && old.get(id) !== now.get(id));
  const parts = [
    added.length ? `added ${added.join(", ")}` : "",
    removed.length ? `removed ${removed.join(", ")}` : "",
    changed.length ? `changed ${changed.join(", ")}` : "",
  ].filter(Boolean);
  return parts.length ? parts.join("; ") : "no agent changed";
}

export { ConfigFileError };
