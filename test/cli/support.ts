import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const BIN = join(fileURLToPath(new URL("../..", import.meta.url)), "bin", "heartbeat-gateway.mjs");

export interface Cli {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `re` on stdout (bounded wait). */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  readonly exited: Promise<number | null>;
}

/** Spawns the real `heartbeat-gateway` command (node + the bin launcher). */
export function cli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Cli {
  const env = { ...process.env, ...options.env };
  delete env.VITEST; // the daemon must behave as it does for a user
  delete env.VITEST_WORKER_ID;
  const child = spawn(process.execPath, [BIN, ...args], { env, cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout?.setEncoding("utf8").on("data", (c: string) => (out += c));
  child.stderr?.setEncoding("utf8").on("data", (c: string) => (err += c));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitFor(re, ms = 30_000) {
      const end = Date.now() + ms;
      for (;;) {
        const m = re.exec(out);
        if (m) return m;
        if (Date.now() > end || child.exitCode !== null) {
          throw new Error(`no ${re} on stdout within ${ms} ms (exit ${child.exitCode})\nstdout: ${out.slice(-2000)}\nstderr: ${err.slice(-2000)}`);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    },
  };
}

/** Runs the command to completion. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const c = cli(args, { env });
  const code = await withTimeout(c.exited, 60_000, `heartbeat-gateway ${args.join(" ")}`);
  return { code, stdout: c.stdout(), stderr: c.stderr() };
}

/** Runs several commands, a few at a time (each is a Node process compiling TypeScript). */
export async function runAll(list: string[][], concurrency = 3): Promise<Awaited<ReturnType<typeof runCli>>[]> {
  const out: Awaited<ReturnType<typeof runCli>>[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < list.length) {
      const i = next++;
      out[i] = await runCli(list[i] as string[]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, list.length) }, worker));
  return out;
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export async function until<T>(probe: () => Promise<T | undefined> | T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error("timed out waiting for a condition");
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
