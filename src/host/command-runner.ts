/**
 * Runs an agent's heartbeat as a shell command: one process per run, with
 *   AGENT_ID       the agent's id
 *   SESSION_KEY    its session key (unset when it has none)
 *   WAKE_REASONS   the run's wake reasons, comma-separated (e.g. "interval,manual")
 * in its environment. Exit code 0 is a run; its last JSON line on stdout, if any, gives
 * the status and token usage (see run-result.ts). Any other exit is a failed run whose
 * error carries the exit code and the end of stderr. When the run's signal aborts
 * (watchdog timeout, stop, reload) the whole process group gets SIGTERM, then SIGKILL
 * after a grace period.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { RunContext, RunHeartbeat } from "../index.ts";
import { resultFromOutput, tail } from "./run-result.ts";

export interface CommandSpec {
  readonly command: string;
  readonly cwd: string;
}

export interface CommandRunnerOptions {
  /** Between SIGTERM and SIGKILL after an abort. Default 2 s. */
  readonly killGraceMs?: number;
  /** Environment the command inherits; default process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

const MAX_STDOUT = 64 * 1024;
const MAX_STDERR = 8 * 1024;
const live = new Set<ChildProcess>();

export function commandRunner(spec: CommandSpec, options: CommandRunnerOptions = {}): RunHeartbeat {
  return (ctx) => runCommand(spec, ctx, options);
}

export function runCommand(spec: CommandSpec, ctx: RunContext, options: CommandRunnerOptions = {}): ReturnType<RunHeartbeat> {
  const { signal } = ctx;
  if (signal.aborted) return Promise.reject(abortError(signal));
  const env: NodeJS.ProcessEnv = { ...(options.env ?? process.env), AGENT_ID: ctx.agentId, WAKE_REASONS: ctx.reasons.join(",") };
  if (ctx.sessionKey === undefined) delete env.SESSION_KEY;
  else env.SESSION_KEY = ctx.sessionKey;

  return new Promise((resolve, reject) => {
    // detached: the command gets its own process group, so an abort reaches its children too.
    const child = spawn(spec.command, { shell: true, cwd: spec.cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    live.add(child);
    let stdout = "";
    let stderr = "";
    let killTimer: NodeJS.Timeout | undefined;
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout = (stdout + chunk).slice(-MAX_STDOUT);
    });
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-MAX_STDERR);
    });

    const onAbort = (): void => {
      killGroup(child, "SIGTERM");
      killTimer = setTimeout(() => killGroup(child, "SIGKILL"), options.killGraceMs ?? 2_000);
      killTimer.unref();
      reject(abortError(signal));
    };
    signal.addEventListener("abort", onAbort, { once: true });

    child.on("error", (err) => {
      cleanup();
      reject(new Error(`command could not start: ${err.message}`));
    });
    child.on("close", (code, sig) => {
      cleanup();
      if (signal.aborted) return; // already rejected
      if (code === 0) {
        try {
          resolve(resultFromOutput(stdout));
        } catch (err) {
          reject(err as Error);
        }
        return;
      }
      const how = code === null ? `was killed by ${sig ?? "a signal"}` : `exited with code ${code}`;
      const detail = tail(stderr) || tail(stdout);
      reject(new Error(detail ? `command ${how}: ${detail}` : `command ${how}`));
    });

    function cleanup(): void {
      live.delete(child);
      signal.removeEventListener("abort", onAbort);
      // Children of the shell that outlive it are still in its group: end them too.
      killGroup(child, "SIGKILL");
      if (killTimer) clearTimeout(killTimer);
    }
  });
}

/** Kills every command still running (the daemon exiting at once on a second signal). */
export function killAllCommands(): void {
  for (const child of live) killGroup(child, "SIGKILL");
  live.clear();
}

export function runningCommands(): number {
  return live.size;
}

function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    // Already gone.
  }
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  return new Error(typeof reason === "string" ? reason : "run aborted");
}
