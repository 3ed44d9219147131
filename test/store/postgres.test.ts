import pg from "pg";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { StoreError } from "../../src/errors.ts";
import { phaseOffset } from "../../src/policy/phase.ts";
import { MIGRATIONS, SCHEMA_VERSION, TABLES } from "../../src/store/postgres-schema.ts";
import { describeConnectionString, postgresStore } from "../../src/store/postgres.ts";
import type { HeartbeatStore, RunRecord } from "../../src/store/types.ts";
import { useFakeTime } from "../support/fake-time.ts";
import { MIN, SEC, startGateway, stopAllGateways, T0, TestHost } from "../support/gateway.ts";
import { freePort, startTestPostgres, trackStore, type TestPostgres } from "../support/postgres.ts";
import { agentState, runClaim, storeContract, TTL } from "./contract-suite.ts";

/**
 * postgresStore on a real Postgres: a throwaway cluster started for this file (initdb +
 * pg_ctl, see test/support/postgres.ts) or the server HEARTBEAT_PG_URL names. Every test
 * gets a schema of its own. First the shared HeartbeatStore contract, then what only a
 * networked, concurrent store has: migrations under concurrent openers, fencing while
 * writes are in flight, and every fault — a timeout, a refused or lost connection, a
 * wrong password, a missing database — as a StoreError naming where and what.
 * Facts about the database are checked through the helper's own connection.
 */

const T = Date.UTC(2026, 0, 5, 12, 0, 0);
let db: TestPostgres;
const started = performance.now();

beforeAll(async () => {
  db = await startTestPostgres("store");
  // Figures for the report: how long a throwaway cluster takes to be ready.
  console.info(`[postgres] ${db.own ? `cluster started in ${db.clusterStartMs} ms` : "using HEARTBEAT_PG_URL"}; ready after ${Math.round(performance.now() - started)} ms`);
}, 60_000);
afterAll(async () => {
  await db?.dispose();
}, 30_000);

const stores: HeartbeatStore[] = [];
const clients: (pg.Client | pg.Pool)[] = [];
const track = <S extends HeartbeatStore>(s: S): S => {
  stores.push(s);
  return s;
};
/** A store on a schema of its own (or the given one), closed after the test. */
const storeOn = (schema: string, over: Record<string, unknown> = {}): HeartbeatStore =>
  track(postgresStore({ connectionString: db.url, schema, ...over }));
/** A connection of the test's own, e.g. to hold a lock the store must wait for. */
const connect = async (): Promise<pg.Client> => {
  const c = new pg.Client({ connectionString: db.url });
  c.on("error", () => {});
  await c.connect();
  clients.push(c);
  return c;
};
afterEach(async () => {
  for (const s of stores.splice(0)) await Promise.resolve(s.close()).catch(() => undefined);
  for (const c of clients.splice(0)) await c.end().catch(() => undefined);
});

async function storeErrorOf(fn: () => unknown): Promise<StoreError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(StoreError);
    return err as StoreError;
  }
  throw new Error("expected a StoreError, nothing was thrown");
}

/** Backends of one application_name in this file's database. */
const backends = async (app: string): Promise<{ pid: number; wait_event_type: string | null; state: string | null }[]> =>
  db.query(`SELECT pid, wait_event_type, state FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()`, [app]);
const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> => {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};
const pending = async (p: Promise<unknown>, ms = 300): Promise<boolean> =>
  Promise.race([p.then(() => false, () => false), new Promise<boolean>((r) => setTimeout(() => r(true), ms))]);

describe("HeartbeatStore contract: postgresStore({ connectionString })", () => {
  storeContract(() => {
    const schema = db.freshSchema("c");
    const make = (): HeartbeatStore => postgresStore({ connectionString: db.url, schema });
    return { store: make(), reopen: make };
  });
});

describe("location: the URL without its password", () => {
  it("names user, host, port and database, never the password", () => {
    const store = postgresStore({ connectionString: db.url });
    expect(store.location).toMatch(/^postgres(ql)?:\/\/[^:@/]+@[^/]+:\d+\/hb_store_/);
    expect(store.location).not.toContain(new URL(db.url).password || "\u0000");
    expect(describeConnectionString("postgres://app:s3cret@db.example:6543/heartbeat?sslmode=require&password=x")).toBe(
      "postgres://app@db.example:6543/heartbeat?sslmode=require",
    );
    expect(describeConnectionString("host=db port=5432 dbname=hb user=app password='s3 cret'")).toBe("host=db port=5432 dbname=hb user=app");
  });

  it("a passed pool: described from its config, and left open by close()", async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 2 });
    clients.push(pool);
    const store = postgresStore({ pool, schema: db.freshSchema() });
    expect(store.location).not.toContain(new URL(db.url).password);
    expect(store.location).toContain("@127.0.0.1:");
    const e = await store.open("o");
    expect(await store.saveAgents([agentState("a")], e)).toBe(true);
    await store.close();
    expect(pool.ended).toBe(false);
    expect((await pool.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    expect(postgresStore({ pool, location: "postgres://app@primary/hb" }).location).toBe("postgres://app@primary/hb");
  });

  it("calls before open (or after close) are a StoreError, not a crash", async () => {
    const store = storeOn(db.freshSchema());
    expect((await storeErrorOf(() => store.loadAgents())).message).toContain("not open");
    await store.open("o");
    await store.close();
    expect((await storeErrorOf(() => store.saveAgents([], 1))).message).toContain(store.location);
  });
});

describe("migrations: versioned in heartbeat_schema, in one transaction, one migrator at a time", () => {
  it("creates the tables and records every version once", async () => {
    const schema = db.freshSchema();
    await storeOn(schema).open("o");
    const tables = await db.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
      [schema],
    );
    expect(tables.map((t) => t.table_name).sort()).toEqual([...TABLES].sort());
    expect(await db.query(`SELECT version FROM "${schema}".heartbeat_schema ORDER BY version`)).toEqual(
      MIGRATIONS.map((_m, i) => ({ version: i + 1 })),
    );
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
  });

  it("seed 003 in the schema: lease_expires_at is NOT NULL and (agent_id, slot_key) is the primary key", async () => {
    const schema = db.freshSchema();
    await storeOn(schema).open("o");
    const cols = await db.query<{ column_name: string; is_nullable: string }>(
      `SELECT column_name, is_nullable FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'heartbeat_run_claim'`,
      [schema],
    );
    expect(cols.find((c) => c.column_name === "lease_expires_at")?.is_nullable).toBe("NO");
    const pk = await db.query<{ attname: string }>(
      `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
       WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)`,
      [`"${schema}".heartbeat_run_claim`],
    );
    expect(pk.map((r) => r.attname)).toEqual(["agent_id", "slot_key"]);
    // The database itself refuses a claim without a lease.
    await expect(
      db.query(`INSERT INTO "${schema}".heartbeat_run_claim (agent_id, slot_key, run_id, owner, epoch, claimed_at, lease_expires_at) VALUES ('a','s',1,'o',1,1,NULL)`),
    ).rejects.toThrow(/null value/);
  });

  it("several stores opening a fresh schema at once all succeed, migrate it once, and get distinct epochs", async () => {
    const schema = db.freshSchema();
    const many = Array.from({ length: 6 }, () => storeOn(schema));
    const epochs = await Promise.all(many.map((s, i) => s.open(`owner-${i}`)));
    expect([...epochs].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await db.query(`SELECT version, count(*)::int AS n FROM "${schema}".heartbeat_schema GROUP BY version ORDER BY version`)).toEqual(
      MIGRATIONS.map((_m, i) => ({ version: i + 1, n: 1 })),
    );
    expect(await db.query(`SELECT epoch::int AS epoch FROM "${schema}".heartbeat_meta`)).toEqual([{ epoch: 6 }]);
  });

  it("without a schema option: the tables go to the connection's search_path (a fresh database, concurrent openers)", async () => {
    const name = `${db.database}_public`.slice(0, 63);
    await db.query(`CREATE DATABASE "${name}"`);
    try {
      const url = db.urlWith({ database: name });
      const many = Array.from({ length: 4 }, () => track(postgresStore({ connectionString: url })));
      expect((await Promise.all(many.map((s) => s.open("o")))).sort()).toEqual([1, 2, 3, 4]);
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        const t = await c.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`);
        expect(t.rows.map((r: { table_name: string }) => r.table_name).sort()).toEqual([...TABLES].sort());
        expect((await c.query(`SELECT count(*)::int AS n FROM heartbeat_schema`)).rows).toEqual([{ n: SCHEMA_VERSION }]);
      } finally {
        await c.end();
      }
      for (const s of many) await s.close();
    } finally {
      await db.query(`DROP DATABASE "${name}" WITH (FORCE)`);
    }
  });

  it("a failed migration leaves nothing behind (one transaction) and names the problem", async () => {
    const schema = db.freshSchema();
    // A table in the way of migration 1: the whole migration rolls back, version table included.
    await db.query(`CREATE SCHEMA "${schema}"; CREATE TABLE "${schema}".heartbeat_agent_state (x int)`);
    const err = await storeErrorOf(() => storeOn(schema).open("o"));
    expect(err.message).toContain("migrating the schema failed");
    expect(err.message).toMatch(/already exists/);
    const left = await db.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, [schema]);
    expect(left.map((t) => t.table_name)).toEqual(["heartbeat_agent_state"]);
  });

  it("a database migrated by a newer runtime is refused with a StoreError naming the location and both versions", async () => {
    const schema = db.freshSchema();
    await storeOn(schema).open("o");
    await db.query(`INSERT INTO "${schema}".heartbeat_schema (version) VALUES ($1)`, [SCHEMA_VERSION + 1]);
    const store = storeOn(schema);
    const err = await storeErrorOf(() => store.open("o"));
    expect(err.message).toContain(store.location);
    expect(err.message).toContain(`schema version ${SCHEMA_VERSION + 1} is newer than this runtime's ${SCHEMA_VERSION}`);
    // ...and nothing was taken: the epoch did not move.
    expect(await db.query(`SELECT epoch::int AS epoch FROM "${schema}".heartbeat_meta`)).toEqual([{ epoch: 1 }]);
  });

  it("a role with only DML rights uses a migrated schema; on an unmigrated one it gets 'permission denied'", async () => {
    if (!db.own) return; // creating roles needs our own cluster
    const schema = db.freshSchema();
    await storeOn(schema).open("setup");
    const role = `hb_app_${schema}`;
    const unmigrated = db.freshSchema();
    await db.query(`CREATE ROLE "${role}" LOGIN PASSWORD 'app-pw'`);
    await db.query(`CREATE SCHEMA "${unmigrated}"; GRANT USAGE ON SCHEMA "${unmigrated}" TO "${role}"`);
    await db.query(`GRANT USAGE ON SCHEMA "${schema}" TO "${role}";
      GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "${schema}" TO "${role}"`);
    const u = new URL(db.url);
    u.username = role;
    u.password = "app-pw";
    const app = track(postgresStore({ connectionString: u.toString(), schema }));
    const e = await app.open("app");
    expect(e).toBe(2);
    expect(await app.saveAgents([agentState("a")], e)).toBe(true);
    expect(await app.claim(runClaim({ epoch: e }))).toEqual({ ok: true });
    expect(await app.appendRuns([run("a", 1)], e, 10)).toBe(true);
    const err = await storeErrorOf(() => track(postgresStore({ connectionString: u.toString(), schema: unmigrated })).open("app"));
    expect(err.message).toMatch(/permission denied/);
    expect(err.message).not.toContain("app-pw");
  });
});

function run(agentId: string, runId: number, over: Partial<RunRecord> = {}): RunRecord {
  return {
    agentId,
    runId,
    startedAt: T + runId * 1_000,
    finishedAt: T + runId * 1_000 + 500,
    durationMs: 500,
    status: "ran",
    reasons: ["interval"],
    usage: { inputTokens: 10, outputTokens: 2 },
    reason: null,
    error: null,
    ...over,
  };
}

describe("run history", () => {
  it("round-trips, newest first, keeping the newest keepPerAgent per agent; a fenced append writes nothing", async () => {
    const schema = db.freshSchema();
    const store = storeOn(schema);
    const e = await store.open("o");
    const a = [1, 2, 3, 4, 5].map((i) => run("a", i));
    const b = [run("b", 1, { status: "failed", usage: null, error: "boom" }), run("b", 2, { status: "skipped", reason: "busy", reasons: ["exec-event", "manual"] })];
    expect(await store.appendRuns([...a.slice(0, 2), b[0]!], e, 3)).toBe(true);
    expect(await store.appendRuns([...a.slice(2), b[1]!], e, 3)).toBe(true);
    expect(await store.loadRuns("a", 10)).toEqual([a[4], a[3], a[2]]);
    expect(await store.loadRuns("a", 2)).toEqual([a[4], a[3]]);
    expect(await store.loadRuns("b", 10)).toEqual([b[1], b[0]]);
    expect(await store.loadRuns("nobody", 10)).toEqual([]);
    expect(await db.query(`SELECT count(*)::int AS n FROM "${schema}".heartbeat_run_history`)).toEqual([{ n: 5 }]);

    const next = storeOn(schema);
    await next.open("o2");
    expect(await store.appendRuns([run("a", 6)], e, 3)).toBe(false);
    expect(await next.loadRuns("a", 1)).toEqual([a[4]]);
  });
});

describe("fencing across store instances, with writes in flight", () => {
  it("an open waits for a write in flight; after it returns, the old epoch's writes are refused", async () => {
    const schema = db.freshSchema();
    const first = storeOn(schema);
    const second = storeOn(schema);
    const e1 = await first.open("first");
    await first.saveAgents([agentState("a")], e1);
    await second.open("warm-up"); // migrated, connected
    const e1b = await first.open("first"); // first is current again
    // A lock on agent "a" holds first's save mid-statement (it already holds the epoch row FOR SHARE).
    const blocker = await connect();
    await blocker.query("BEGIN");
    await blocker.query(`SELECT 1 FROM "${schema}".heartbeat_agent_state WHERE agent_id = 'a' FOR UPDATE`);
    const save = first.saveAgents([agentState("a", { runCount: 41 })], e1b);
    await waitFor("the save to wait on the row lock", async () => (await backends("heartbeat-runtime")).some((b) => b.wait_event_type === "Lock"));
    const opening = Promise.resolve(second.open("second"));
    expect(await pending(opening)).toBe(true); // the open waits for the write in flight
    await blocker.query("COMMIT");
    expect(await save).toBe(true); // it began before the open: it lands
    const e2 = await opening;
    expect(e2).toBe(e1b + 1);
    // From now on every write of the old epoch is refused.
    expect(await first.saveAgents([agentState("a", { runCount: 42 })], e1b)).toBe(false);
    expect(await first.claim(runClaim({ epoch: e1b }))).toEqual({ ok: false, reason: "fenced", currentEpoch: e2 });
    expect(await first.appendRuns([run("a", 1)], e1b, 10)).toBe(false);
    expect(await first.deleteAgents(["a"], e1b)).toBe(false);
    expect(await second.loadAgents()).toEqual([agentState("a", { runCount: 41 })]);
  });

  it("a write that waits on an open in progress re-checks the epoch when the open commits, and is refused", async () => {
    const schema = db.freshSchema();
    const store = storeOn(schema);
    const e = await store.open("old");
    await store.claim(runClaim({ epoch: e }));
    const newOwner = await connect();
    await newOwner.query("BEGIN");
    await newOwner.query(`UPDATE "${schema}".heartbeat_meta SET epoch = epoch + 1, owner = 'new'`);
    const save = store.saveAgents([agentState("a")], e);
    const renew = store.renew("a", `slot:${T}`, e, T + 5 * TTL);
    const finish = store.finish("a", `slot:${T}`, e, "ran", T + 1_000);
    expect(await pending(Promise.resolve(save))).toBe(true);
    await newOwner.query("COMMIT");
    expect(await save).toBe(false);
    expect(await renew).toBe(false);
    expect(await finish).toBe(false);
    expect(await db.query(`SELECT count(*)::int AS n FROM "${schema}".heartbeat_agent_state`)).toEqual([{ n: 0 }]);
    expect(await db.query(`SELECT status, lease_expires_at::float8 AS lease FROM "${schema}".heartbeat_run_claim`)).toEqual([
      { status: "open", lease: T + TTL },
    ]);
  });

  it("racing claims on one slot from several instances: exactly one wins", async () => {
    const schema = db.freshSchema();
    const many = Array.from({ length: 5 }, () => storeOn(schema));
    for (const s of many) await s.open("o");
    const e = await many[0]!.open("o"); // the current epoch: never fenced, whichever handle writes
    const results = await Promise.all(
      many.flatMap((s, i) => [0, 1, 2].map((j) => s.claim(runClaim({ epoch: e, owner: `o${i}`, runId: i * 10 + j })))),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok && r.reason === "slot-taken")).toHaveLength(14);
  });

  it("racing reapers: every expired claim is returned by exactly one of them", async () => {
    const schema = db.freshSchema();
    const many = Array.from({ length: 4 }, () => storeOn(schema));
    const e = (await Promise.all(many.map((s) => s.open("o")))).reduce((a, b) => Math.max(a, b));
    for (let i = 0; i < 40; i++) await many[0]!.claim(runClaim({ epoch: e, agentId: `a${i % 7}`, slotKey: `s${i}`, leaseExpiresAt: T + i }));
    const reaped = (await Promise.all(many.map((s) => s.reap(T + 100)))).flat();
    expect(reaped).toHaveLength(40);
    expect(new Set(reaped.map((c) => c.slotKey)).size).toBe(40);
  });
});

describe("faults are StoreErrors that name the location and the problem", () => {
  it("a statement that runs past statementTimeoutMs", async () => {
    const schema = db.freshSchema();
    const store = storeOn(schema, { statementTimeoutMs: 300 });
    const e = await store.open("o");
    const blocker = await connect();
    await blocker.query("BEGIN");
    await blocker.query(`SELECT 1 FROM "${schema}".heartbeat_meta FOR UPDATE`);
    const t0 = performance.now();
    const err = await storeErrorOf(() => store.saveAgents([agentState("a")], e));
    expect(performance.now() - t0).toBeLessThan(3_000);
    expect(err.message).toContain(store.location);
    expect(err.message).toMatch(/saving agents failed: statement timeout: the statement ran longer than 300 ms/);
    expect(err.message).toContain("57014");
    await blocker.query("ROLLBACK");
    expect(await store.saveAgents([agentState("a")], e)).toBe(true);
  });

  it("connection refused (a port nothing listens on)", async () => {
    const port = await freePort();
    const store = track(postgresStore({ connectionString: db.urlWith({ port }) }));
    const err = await storeErrorOf(() => store.open("o"));
    expect(err.message).toContain(`127.0.0.1:${port}`);
    expect(err.message).toContain(store.location);
    expect(err.message).toMatch(/opening failed: connection refused/);
    expect(err.message).not.toContain(new URL(db.url).password);
  });

  it("a database that does not exist", async () => {
    const store = track(postgresStore({ connectionString: db.urlWith({ database: "no_such_db" }) }));
    const err = await storeErrorOf(() => store.open("o"));
    expect(err.message).toContain("/no_such_db");
    expect(err.message).toMatch(/the database does not exist .*3D000/);
  });

  it("a wrong password (authentication failed), without printing either password", async () => {
    if (!db.passwordUrl) return; // an external server's authentication is unknown
    const good = new URL(db.passwordUrl);
    // The right password passes SCRAM...
    expect(await track(postgresStore({ connectionString: db.passwordUrl, schema: db.freshSchema() })).open("o")).toBe(1);
    // ...a wrong one is named for what it is.
    const bad = new URL(db.passwordUrl);
    bad.password = "wrong-password";
    const store = track(postgresStore({ connectionString: bad.toString() }));
    const err = await storeErrorOf(() => store.open("o"));
    expect(err.message).toMatch(/opening failed: authentication failed .*28P01/);
    expect(err.message).toContain(store.location);
    expect(err.message).toContain(`${good.username}@127.0.0.1`);
    expect(err.message).not.toContain("wrong-password");
    expect(err.message).not.toContain(good.password);
  });

  it("a connection lost mid-statement (pg_terminate_backend): that call fails, the next one reconnects", async () => {
    const schema = db.freshSchema();
    const app = "hb-lost-mid";
    const store = storeOn(schema, { applicationName: app });
    const e = await store.open("o");
    const blocker = await connect();
    await blocker.query("BEGIN");
    await blocker.query(`SELECT 1 FROM "${schema}".heartbeat_meta FOR UPDATE`);
    const save = Promise.resolve(store.saveAgents([agentState("a")], e));
    save.catch(() => undefined);
    await waitFor("the save to wait on the lock", async () => (await backends(app)).some((b) => b.wait_event_type === "Lock"));
    const victim = (await backends(app)).find((b) => b.wait_event_type === "Lock")!;
    await db.query(`SELECT pg_terminate_backend($1)`, [victim.pid]);
    const err = await storeErrorOf(() => save);
    expect(err.message).toContain(store.location);
    expect(err.message).toMatch(/saving agents failed: the connection to the server was lost/);
    await blocker.query("ROLLBACK");
    // The pool dropped the dead connection: the next calls run on a new one.
    expect(await store.saveAgents([agentState("a")], e)).toBe(true);
    expect(await store.loadAgents()).toEqual([agentState("a")]);
    expect((await backends(app)).map((b) => b.pid)).not.toContain(victim.pid);
  });

  it("every idle connection killed between calls: at most one call fails (a StoreError), then the store works again", async () => {
    const schema = db.freshSchema();
    const app = "hb-lost-idle";
    const store = storeOn(schema, { applicationName: app });
    const e = await store.open("o");
    await store.saveAgents([agentState("a")], e);
    await Promise.all([store.loadAgents(), store.loadAgents(), store.loadRuns("a", 1)]); // several pooled connections
    const before = await backends(app);
    expect(before.length).toBeGreaterThan(0);
    await db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, [app]);
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) {
      try {
        await store.appendRuns([run("a", i + 1)], e, 10); // a transaction: BEGIN … COMMIT on one connection
        outcomes.push("ok");
      } catch (err) {
        expect(err).toBeInstanceOf(StoreError);
        expect((err as Error).message).toContain(store.location);
        outcomes.push("failed");
      }
    }
    expect(outcomes.filter((o) => o === "failed").length).toBeLessThanOrEqual(1);
    expect(outcomes.at(-1)).toBe("ok");
    expect(await store.loadAgents()).toEqual([agentState("a")]);
  });
});

describe("a gateway on postgresStore (fake time, real database)", () => {
  beforeEach(() => useFakeTime(T0));
  afterEach(async () => {
    await stopAllGateways();
    vi.useRealTimers();
  });

  it("restarted on the same database it resumes the schedule: same nextDueAt and runCount, next runs at the stored slot", async () => {
    const schema = db.freshSchema("gw");
    const make = () => trackStore(postgresStore({ connectionString: db.url, schema }));
    const agents = [{ id: "alpha", every: "1m" }];
    const s1 = make();
    const h1 = startGateway({ agents, store: s1.store, leaseTtl: "3s" });
    await s1.advance(3 * MIN + 10 * SEC);
    const before = h1.agent("alpha");
    expect(before.runCount).toBe(3);
    const due = before.nextDueAt!;
    await h1.gw.stop();
    const [row] = await db.query<{ state: { dueAt: number; runCount: number } }>(
      `SELECT state FROM "${schema}".heartbeat_agent_state WHERE agent_id = 'alpha'`,
    );
    expect(row?.state).toMatchObject({ dueAt: due, runCount: 3 });

    // Down for 7 s (less than a cadence), then a new process on the same database.
    await vi.advanceTimersByTimeAsync(7 * SEC);
    const restartedAt = Date.now();
    const s2 = make();
    const host2 = new TestHost();
    const h2 = startGateway({ agents, store: s2.store, leaseTtl: "3s", host: host2 });
    await s2.idle();
    expect(h2.agent("alpha")).toMatchObject({ nextDueAt: due, runCount: 3, state: "idle" });
    expect(restartedAt + phaseOffset("alpha", MIN)).not.toBe(due);

    await s2.advance(due - Date.now() + 2 * MIN + 1);
    expect(h2.of("run-started", "alpha").map((e) => e.at)).toEqual([due, due + MIN, due + 2 * MIN]);
    expect(h2.agent("alpha").runCount).toBe(6);
    expect(host2.calls).toHaveLength(3);
    // Every run claimed its slot once, under the epoch of the process that ran it, and finished.
    const claims = await db.query<{ slot_key: string; epoch: string; status: string }>(
      `SELECT slot_key, epoch, status FROM "${schema}".heartbeat_run_claim WHERE agent_id = 'alpha' ORDER BY claimed_at`,
    );
    expect(claims.map((c) => [Number(c.epoch), c.status])).toEqual([
      [1, "ran"], [1, "ran"], [1, "ran"], [2, "ran"], [2, "ran"], [2, "ran"],
    ]);
    expect(new Set(claims.map((c) => c.slot_key)).size).toBe(6);
  });
});
