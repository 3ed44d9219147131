import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { vi } from "vitest";
import type { HeartbeatStore } from "../../src/store/types.ts";

/**
 * A real Postgres for the store tests.
 *
 * Unless `HEARTBEAT_PG_URL` points at a server, this starts a THROWAWAY cluster of its
 * own: `initdb` + `pg_ctl` (Debian's `postgresql` package, /usr/lib/postgresql/<v>/bin,
 * or `HEARTBEAT_PG_BIN`, or the PATH) in a fresh temporary folder, listening on a free
 * loopback port and on a socket in that folder only, run as a non-root user when the
 * tests run as root (Postgres refuses root): `postgres` if it exists, else `nobody`.
 * Password authentication on TCP (scram), so wrong-password paths are real.
 * Tuned for tests (no fsync), stopped with `pg_ctl stop -m immediate` and removed
 * afterwards — also when the test process exits early.
 *
 * Either way each test file gets a database of its own (dropped afterwards), and each
 * test a schema of its own via `freshSchema()`.
 */

const run = promisify(execFile);
/** The one role of our own cluster whose connections are password-checked (SCRAM). */
const AUTH_ROLE = "hb_auth";

export interface TestPostgres {
  /** URL of this file's database, password included. */
  readonly url: string;
  readonly database: string;
  /** The cluster was started here (false: `HEARTBEAT_PG_URL`). */
  readonly own: boolean;
  /**
   * This file's database as a role whose password the server checks (SCRAM), password
   * included — our own cluster only (an external server's auth is unknown): undefined there.
   */
  readonly passwordUrl: string | undefined;
  /** How long the cluster took to start (initdb + pg_ctl start), ms; 0 for an external one. */
  readonly clusterStartMs: number;
  /** This file's URL with parts replaced. */
  urlWith(over: { user?: string; password?: string; database?: string; port?: number }): string;
  /** A schema name no test of this file has used. */
  freshSchema(prefix?: string): string;
  /** A query on this file's database through the helper's own connection (not the store's). */
  query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Drop the database; stop and remove the cluster if it is ours. */
  dispose(): Promise<void>;
}

interface Cluster {
  readonly url: URL;
  readonly auth?: { readonly user: string; readonly password: string };
  readonly startMs: number;
  stop(): Promise<void>;
}

/** Start (or attach to) a server and create this file's database. Call from beforeAll (give it ~30 s). */
export async function startTestPostgres(label: string): Promise<TestPostgres> {
  const externalUrl = process.env["HEARTBEAT_PG_URL"];
  const cluster = externalUrl ? attach(externalUrl) : await startCluster();
  const database = `hb_${label.replace(/[^a-z0-9_]/gi, "_").toLowerCase()}_${process.pid}_${randomBytes(3).toString("hex")}`.slice(0, 63);
  const admin = new pg.Client({ connectionString: cluster.url.toString() });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE "${database}"`);
  } catch (err) {
    await admin.end().catch(() => undefined);
    await cluster.stop();
    throw err;
  } finally {
    await admin.end().catch(() => undefined);
  }
  const urlWith = (over: { user?: string; password?: string; database?: string; port?: number }): string => {
    const u = new URL(cluster.url.toString());
    u.pathname = `/${over.database ?? database}`;
    if (over.user !== undefined) u.username = over.user;
    if (over.password !== undefined) u.password = over.password;
    if (over.port !== undefined) u.port = String(over.port);
    return u.toString();
  };
  const url = urlWith({});
  const peek = new pg.Pool({ connectionString: url, max: 4 });
  peek.on("error", () => {});
  let schemas = 0;
  return {
    url,
    database,
    own: !externalUrl,
    passwordUrl: cluster.auth ? urlWith({ user: cluster.auth.user, password: cluster.auth.password }) : undefined,
    clusterStartMs: cluster.startMs,
    urlWith,
    freshSchema: (prefix = "t") => `${prefix}_${++schemas}_${randomBytes(3).toString("hex")}`,
    query: async <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => (await peek.query<R>(sql, params)).rows,
    async dispose() {
      await peek.end().catch(() => undefined);
      if (externalUrl) {
        const c = new pg.Client({ connectionString: cluster.url.toString() });
        await c.connect();
        try {
          await c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
        } finally {
          await c.end();
        }
      }
      await cluster.stop();
    },
  };
}

/** A server someone else runs: nothing to start or stop. */
function attach(url: string): Cluster {
  return { url: new URL(url), startMs: 0, stop: async () => {} };
}

/** The folder holding initdb and pg_ctl: HEARTBEAT_PG_BIN, the newest Debian version, or the PATH. */
export function postgresBinDir(): string | undefined {
  const fromEnv = process.env["HEARTBEAT_PG_BIN"];
  if (fromEnv) return fromEnv;
  const debian = "/usr/lib/postgresql";
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => existsSync(join(debian, v, "bin", "initdb")))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(debian, versions[0], "bin");
  }
  return (process.env["PATH"] ?? "").split(delimiter).find((d) => d && existsSync(join(d, "initdb")));
}

/** Who runs the cluster: ourselves, or (as root, whom Postgres refuses) `postgres` or `nobody`. */
function clusterUser(): { name: string; uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ["postgres", "nobody"]) {
    const uid = spawnSync("id", ["-u", name], { encoding: "utf8" });
    const gid = spawnSync("id", ["-g", name], { encoding: "utf8" });
    if (uid.status === 0 && gid.status === 0) return { name, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  }
  throw new Error("running as root, and neither a `postgres` nor a `nobody` user exists to run a Postgres cluster as");
}

/** A loopback port nothing listens on (at the moment of asking). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });

async function startCluster(): Promise<Cluster> {
  const t0 = performance.now();
  const bin = postgresBinDir();
  if (!bin) {
    throw new Error(
      "Postgres tests need a server: install Debian's `postgresql` package (initdb, pg_ctl; .ci/run does) or set HEARTBEAT_PG_URL=postgres://user:password@host:port/db",
    );
  }
  const user = clusterUser();
  const dir = mkdtempSync(join(tmpdir(), "hb-pg-"));
  const data = join(dir, "data");
  const pwfile = join(dir, "pwfile");
  const logFile = join(dir, "server.log");
  const password = randomBytes(12).toString("hex");
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (user) {
    chownSync(dir, user.uid, user.gid);
    chownSync(pwfile, user.uid, user.gid);
  }
  const as = (cmd: string, args: string[]): [string, string[]] => (user ? ["runuser", ["-u", user.name, "--", cmd, ...args]] : [cmd, args]);
  const exec = async (cmd: string, args: string[], timeout = 60_000): Promise<void> => {
    const [c, a] = as(join(bin, cmd), args);
    try {
      await run(c, a, { cwd: dir, timeout, env: { ...process.env, LC_ALL: "C", LANG: "C" } });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message?: string };
      const log = existsSync(logFile) ? readFileSync(logFile, "utf8").slice(-2_000) : "";
      throw new Error(`${cmd} failed: ${e.message ?? err}\n${e.stdout ?? ""}${e.stderr ?? ""}${log}`);
    }
  };
  let stopped = false;
  const stopSync = (): void => {
    if (stopped) return;
    stopped = true;
    const [c, a] = as(join(bin, "pg_ctl"), ["-D", data, "stop", "-m", "immediate", "-w"]);
    if (existsSync(join(data, "postmaster.pid"))) spawnSync(c, a, { cwd: dir, stdio: "ignore", timeout: 30_000 });
    rmSync(dir, { recursive: true, force: true });
  };
  // A test process that exits without afterAll (a crash, a bail) still removes its cluster.
  process.once("exit", stopSync);

  try {
    await exec("initdb", [
      "-D", data, "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
      "--auth-local=trust", "--auth-host=scram-sha-256", `--pwfile=${pwfile}`,
    ]);
    // Password checks cost ~80 ms a connection (SCRAM): only the role AUTH_ROLE has them
    // (the wrong-password tests use it); every other loopback connection is trusted.
    writeFileSync(
      join(data, "pg_hba.conf"),
      [
        "local all all trust",
        `host all ${AUTH_ROLE} 127.0.0.1/32 scram-sha-256`,
        "host all all 127.0.0.1/32 trust",
        "",
      ].join("\n"),
    );
    if (user) chownSync(join(data, "pg_hba.conf"), user.uid, user.gid);
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const opts = [
        `-k ${dir}`, "-c listen_addresses=127.0.0.1", `-p ${port}`,
        "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off", "-c max_connections=200",
      ].join(" ");
      try {
        await exec("pg_ctl", ["-D", data, "-l", logFile, "-o", opts, "-w", "-t", "30", "start"]);
        break;
      } catch (err) {
        if (attempt >= 3) throw err; // the port was taken between the probe and the start: try another
      }
    }
    const url = new URL(`postgres://postgres:${password}@127.0.0.1:${port}/postgres`);
    await waitUntilAccepting(url.toString());
    const authPassword = randomBytes(12).toString("hex");
    const c = new pg.Client({ connectionString: url.toString() });
    await c.connect();
    try {
      await c.query(`CREATE ROLE ${AUTH_ROLE} LOGIN SUPERUSER PASSWORD '${authPassword}'`);
    } finally {
      await c.end();
    }
    return {
      url,
      auth: { user: AUTH_ROLE, password: authPassword },
      startMs: Math.round(performance.now() - t0),
      stop: async () => {
        if (stopped) return;
        process.removeListener("exit", stopSync);
        stopped = true;
        try {
          await exec("pg_ctl", ["-D", data, "stop", "-m", "immediate", "-w"], 30_000);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    process.removeListener("exit", stopSync);
    stopSync();
    throw err;
  }
}

async function waitUntilAccepting(url: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    try {
      await c.connect();
      await c.query("SELECT 1");
      await c.end();
      return;
    } catch (err) {
      await c.end().catch(() => undefined);
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * A networked store on fake time: real I/O does not move the fake clock, so a gateway
 * test must wait for the store between timers. `advance` fires the fake timers one at a
 * time (the next due one, then waits until every store call in flight has settled), so a
 * store answer arrives at the same fake instant it was asked, as the embedded stores'
 * answers do.
 */
export interface TrackedStore {
  readonly store: HeartbeatStore;
  /** Resolve once no store call is in flight (and what they settled has run). */
  idle(): Promise<void>;
  advance(ms: number): Promise<void>;
}

export function trackStore(inner: HeartbeatStore): TrackedStore {
  const inflight = new Set<Promise<unknown>>();
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]): unknown => {
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (result instanceof Promise) {
          inflight.add(result);
          result.then(
            () => inflight.delete(result),
            () => inflight.delete(result),
          );
        }
        return result;
      };
    },
  });
  const idle = async (): Promise<void> => {
    while (inflight.size > 0) {
      await Promise.allSettled([...inflight]);
      await vi.advanceTimersByTimeAsync(0);
    }
    await vi.advanceTimersByTimeAsync(0);
  };
  return {
    store,
    idle,
    async advance(ms) {
      const target = Date.now() + ms;
      const sentinel = setTimeout(() => {}, ms);
      try {
        await idle();
        while (Date.now() < target) {
          await vi.advanceTimersToNextTimerAsync();
          await idle();
        }
      } finally {
        clearTimeout(sentinel);
      }
    },
  };
}
