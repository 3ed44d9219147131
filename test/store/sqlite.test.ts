import Database from "better-sqlite3";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { StoreError } from "../../src/errors.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "../../src/store/sqlite-schema.ts";
import { sqliteStore, toStoreError } from "../../src/store/sqlite.ts";
import type { HeartbeatStore } from "../../src/store/types.ts";
import { claimRows, metaValue, peek, removeTempDirs, tempDbPath, tempDir } from "../support/temp-db.ts";
import { agentState, runClaim, TTL } from "./contract-suite.ts";

/**
 * SQLite specifics the port does not show: WAL, migrations in PRAGMA user_version, and
 * every fault (a newer schema, a corrupt file, a lock, a path that cannot exist) as a
 * StoreError that names the file and the problem. Every fact about the file is checked
 * through a second, independent better-sqlite3 connection.
 */

const T = Date.UTC(2026, 0, 5, 12, 0, 0);
const open: (HeartbeatStore | Database.Database)[] = [];
const track = <S extends HeartbeatStore | Database.Database>(s: S): S => {
  open.push(s);
  return s;
};

afterEach(() => {
  for (const s of open.splice(0)) s.close();
});
afterAll(() => removeTempDirs());

/** Run fn and return the StoreError it threw (failing the test if it threw nothing, or something else). */
async function storeErrorOf(fn: () => unknown): Promise<StoreError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(StoreError);
    return err as StoreError;
  }
  throw new Error("expected a StoreError, nothing was thrown");
}

describe("creating and migrating", () => {
  it("creates the folder and the file on first open", () => {
    const dir = tempDir();
    const path = join(dir, "nested", "deeper", "state.db");
    const store = track(sqliteStore({ path }));
    expect(store.location).toBe(path);
    expect(existsSync(join(dir, "nested"))).toBe(false);
    expect(store.open("o")).toBe(1);
    expect(existsSync(path)).toBe(true);
  });

  it("puts the database in WAL mode", () => {
    const path = tempDbPath();
    track(sqliteStore({ path })).open("o");
    expect(peek(path, (db) => db.pragma("journal_mode", { simple: true }))).toBe("wal");
  });

  it("records its schema version in PRAGMA user_version and creates the tables", () => {
    const path = tempDbPath();
    track(sqliteStore({ path })).open("o");
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
    expect(peek(path, (db) => db.pragma("user_version", { simple: true }))).toBe(SCHEMA_VERSION);
    const tables = peek(path, (db) =>
      db.prepare<[], { name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all().map((r) => r.name),
    );
    expect(tables).toEqual(expect.arrayContaining(["agent_state", "meta", "run_claim"]));
  });

  it("seed 003 in the schema: run_claim.lease_expires_at is NOT NULL, and (agent_id, slot_key) is the primary key", () => {
    const path = tempDbPath();
    track(sqliteStore({ path })).open("o");
    const cols = peek(path, (db) =>
      db.prepare<[], { name: string; notnull: number; pk: number }>(`PRAGMA table_info(run_claim)`).all(),
    );
    expect(cols.find((c) => c.name === "lease_expires_at")?.notnull).toBe(1);
    expect(cols.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name)).toEqual(["agent_id", "slot_key"]);
  });

  it("reopening a migrated file migrates nothing and continues the epoch", () => {
    const path = tempDbPath();
    const first = sqliteStore({ path });
    expect(first.open("o")).toBe(1);
    first.saveAgents([agentState("a")], 1);
    first.close();
    const second = track(sqliteStore({ path }));
    expect(second.open("o2")).toBe(2);
    expect(second.loadAgents()).toEqual([agentState("a")]);
    expect(peek(path, (db) => db.pragma("user_version", { simple: true }))).toBe(SCHEMA_VERSION);
    expect(metaValue(path, "epoch")).toBe("2");
    expect(metaValue(path, "owner")).toBe("o2");
  });

  it("an empty (0-byte) file is a new database: it is migrated, not refused", () => {
    const path = tempDbPath();
    writeFileSync(path, "");
    expect(track(sqliteStore({ path })).open("o")).toBe(1);
    expect(peek(path, (db) => db.pragma("user_version", { simple: true }))).toBe(SCHEMA_VERSION);
  });

  it("writes are visible to another connection at once (a claim row with its lease, never null)", () => {
    const path = tempDbPath();
    const store = track(sqliteStore({ path }));
    const e = store.open("o") as number;
    store.claim(runClaim({ epoch: e }));
    expect(claimRows(path)).toEqual([
      expect.objectContaining({ agent_id: "a", status: "open", lease_expires_at: T + TTL, epoch: e, owner: "owner-1", finished_at: null }),
    ]);
    store.renew("a", `slot:${T}`, e, T + 2 * TTL);
    expect(claimRows(path)[0]?.lease_expires_at).toBe(T + 2 * TTL);
    store.finish("a", `slot:${T}`, e, "timed-out", T + 5_000);
    expect(claimRows(path)[0]).toMatchObject({ status: "timed-out", finished_at: T + 5_000, lease_expires_at: T + 2 * TTL });
  });

  it("a reaped claim is recorded as aborted / lease-expired, keeping its lease", () => {
    const path = tempDbPath();
    const store = track(sqliteStore({ path }));
    const e = store.open("o") as number;
    store.claim(runClaim({ epoch: e }));
    store.reap(T + TTL + 7);
    expect(claimRows(path)[0]).toMatchObject({ status: "aborted", reason: "lease-expired", finished_at: T + TTL + 7, lease_expires_at: T + TTL });
  });
});

describe("faults are StoreErrors that name the file and the problem", () => {
  it("a schema from a newer version: refused with 'newer', naming the file; nothing is migrated", async () => {
    const path = tempDbPath();
    const other = new Database(path);
    other.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
    other.close();
    const err = await storeErrorOf(() => track(sqliteStore({ path })).open("o"));
    expect(err.location).toBe(path);
    expect(err.message).toContain(path);
    expect(err.message).toMatch(/newer/);
    expect(peek(path, (db) => db.pragma("user_version", { simple: true }))).toBe(SCHEMA_VERSION + 5);
    expect(peek(path, (db) => db.prepare(`SELECT count(*) AS n FROM sqlite_master`).get())).toEqual({ n: 0 });
  });

  it("a corrupt file (garbage bytes): 'corrupt', naming the file", async () => {
    const path = tempDbPath("garbage.db");
    writeFileSync(path, Buffer.from(Array.from({ length: 16_384 }, (_, i) => (i * 131 + 7) % 256)));
    const err = await storeErrorOf(() => track(sqliteStore({ path })).open("o"));
    expect(err.location).toBe(path);
    expect(err.message).toContain(path);
    expect(err.message).toMatch(/corrupt|not a .*database/);
  });

  it("a SQLite file with a damaged page (valid header): a StoreError naming the file, on open or on first use", async () => {
    const path = tempDbPath();
    const store = sqliteStore({ path });
    const e = store.open("o") as number;
    store.saveAgents(Array.from({ length: 200 }, (_, i) => agentState(`agent-${i}`)), e);
    store.close();
    // Checkpoint the WAL into the file, then overwrite everything after the first page.
    const db = new Database(path);
    db.pragma("wal_checkpoint(TRUNCATE)");
    db.pragma("journal_mode = DELETE");
    db.close();
    const size = statSync(path).size;
    expect(size).toBeGreaterThan(8_192);
    const bytes = readFileSync(path);
    bytes.fill(0xa5, 4_096);
    writeFileSync(path, bytes);

    const broken = track(sqliteStore({ path }));
    const err = await storeErrorOf(() => {
      broken.open("o2");
      broken.loadAgents();
    });
    expect(err.message).toContain(path);
    expect(err.message).toMatch(/corrupt|malformed|not a .*database/);
  });

  it("a foreign SQLite file (user_version 0, a conflicting table): a StoreError naming the file", async () => {
    const path = tempDbPath();
    const other = new Database(path);
    other.exec(`CREATE TABLE meta (something_else INTEGER)`);
    other.close();
    const err = await storeErrorOf(() => track(sqliteStore({ path })).open("o"));
    expect(err.message).toContain(path);
  });

  it("a folder path that cannot exist (under a regular file): a StoreError naming the file", async () => {
    const file = join(tempDir(), "not-a-folder");
    writeFileSync(file, "x");
    const path = join(file, "sub", "state.db");
    const err = await storeErrorOf(() => track(sqliteStore({ path })).open("o"));
    expect(err.location).toBe(path);
    expect(err.message).toContain(path);
    expect(err.message).toMatch(/ENOTDIR|not a directory|cannot be opened/);
  });

  it("the path is a folder, not a file: a StoreError naming it", async () => {
    const path = tempDir();
    const err = await storeErrorOf(() => track(sqliteStore({ path })).open("o"));
    expect(err.message).toContain(path);
  });

  it("a full disk maps to 'the disk is full' (SQLITE_FULL), naming the file", () => {
    const cause = Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" });
    const err = toStoreError("/var/lib/hb/state.db", cause, "saving agents");
    expect(err).toBeInstanceOf(StoreError);
    expect(err.message).toBe("/var/lib/hb/state.db: saving agents failed: the disk is full");
    expect(err.cause).toBe(cause);
  });

  it("a full database (max_page_count reached) on a write: a StoreError naming the file and 'full'", async () => {
    // A real full disk cannot be made in a test, and the store's own connection is not
    // reachable through the port: cap a second connection's pages on the same file, fill it,
    // and check that what SQLite raises is mapped to "the disk is full".
    const path = tempDbPath();
    track(sqliteStore({ path })).open("o");
    const db = track(new Database(path));
    db.pragma("max_page_count = 8");
    let thrown: unknown;
    try {
      const insert = db.prepare(`INSERT INTO agent_state (agent_id, state, updated_at) VALUES (?, ?, 0)`);
      for (let i = 0; i < 1_000; i++) insert.run(`agent-${i}`, "x".repeat(2_000));
    } catch (err) {
      thrown = err;
    }
    expect((thrown as { code?: string }).code).toBe("SQLITE_FULL");
    expect(toStoreError(path, thrown, "saving agents").message).toBe(`${path}: saving agents failed: the disk is full`);
  });

  describe("a locked database", () => {
    function lockedBy(path: string, mode: "IMMEDIATE" | "EXCLUSIVE"): Database.Database {
      const other = track(new Database(path));
      other.exec(`BEGIN ${mode}`);
      return other;
    }
    const BUSY_MS = 150;
    /** A store on a migrated file, opened; then another connection takes the write lock. */
    function openThenLock(): { path: string; store: HeartbeatStore; epoch: number; other: Database.Database } {
      const path = tempDbPath();
      const store = track(sqliteStore({ path, busyTimeoutMs: BUSY_MS }));
      const epoch = store.open("o") as number;
      store.claim(runClaim({ epoch, slotKey: "old", leaseExpiresAt: T }));
      return { path, store, epoch, other: lockedBy(path, "IMMEDIATE") };
    }
    async function lockedError(fn: () => unknown): Promise<{ err: StoreError; waitedMs: number }> {
      const t0 = performance.now();
      const err = await storeErrorOf(fn);
      return { err, waitedMs: performance.now() - t0 };
    }

    it.each([
      ["open", (s: HeartbeatStore) => s.open("o2")],
      ["saveAgents", (s: HeartbeatStore, e: number) => s.saveAgents([agentState("a")], e)],
      ["deleteAgents", (s: HeartbeatStore, e: number) => s.deleteAgents(["a"], e)],
      ["claim", (s: HeartbeatStore, e: number) => s.claim(runClaim({ epoch: e }))],
      ["renew", (s: HeartbeatStore, e: number) => s.renew("a", "old", e, T + TTL)],
      ["finish", (s: HeartbeatStore, e: number) => s.finish("a", "old", e, "ran", T)],
      ["reap", (s: HeartbeatStore) => s.reap(T + TTL)],
    ] as const)("%s while another connection holds the write lock: 'locked', naming the file, after waiting the busy timeout", async (_op, op) => {
      const { path, store, epoch, other } = openThenLock();
      const { err, waitedMs } = await lockedError(() => op(store, epoch));
      expect(err.message).toContain(path);
      expect(err.message).toMatch(/locked/);
      // busyTimeoutMs is honoured: a write waits for the lock before giving up.
      expect(waitedMs).toBeGreaterThanOrEqual(BUSY_MS * 0.8);
      other.exec("ROLLBACK");
      // Once the lock is released the same store works again.
      await op(store, epoch);
    });

    it("a lock held briefly by another process is waited out, not reported (claim, save, reap, open)", async () => {
      const path = tempDbPath();
      const store = track(sqliteStore({ path, busyTimeoutMs: 3_000 }));
      const e = store.open("o") as number;
      for (const op of [
        () => store.claim(runClaim({ epoch: e })),
        () => store.saveAgents([agentState("a")], e),
        () => store.reap(T + TTL),
        () => store.open("o2"),
      ]) {
        await holdLockInChild(path, 150);
        expect(() => op()).not.toThrow();
      }
    });

    it("a store whose first open failed on a lock (a brand-new file being created by another process) opens once the lock is released", async () => {
      const path = tempDbPath();
      // Another process is creating the file: rollback journal, exclusive lock, mid-transaction.
      const other = track(new Database(path));
      other.exec(`CREATE TABLE other_app (x)`);
      other.exec(`DROP TABLE other_app`);
      other.exec("BEGIN EXCLUSIVE");
      const store = track(sqliteStore({ path, busyTimeoutMs: 50 }));
      const err = await storeErrorOf(() => store.open("o"));
      expect(err.message).toMatch(/locked/);
      other.exec("ROLLBACK");
      other.close();
      // The lock is gone: a retry must open, migrate and hand out an epoch — not "store is not open".
      expect(store.open("o")).toBe(1);
      expect(peek(path, (db) => db.pragma("user_version", { simple: true }))).toBe(SCHEMA_VERSION);
    });
  });

  it("a store that was never opened, or was closed, refuses calls with a StoreError naming the file", async () => {
    const path = tempDbPath();
    const store = track(sqliteStore({ path }));
    expect((await storeErrorOf(() => store.loadAgents())).message).toContain(path);
    store.open("o");
    store.close();
    expect((await storeErrorOf(() => store.saveAgents([agentState("a")], 1))).message).toContain(path);
    expect((await storeErrorOf(() => store.reap(T))).message).toContain(path);
  });

  it("a corrupt file that is replaced by a good one: the same store opens on retry", async () => {
    const path = tempDbPath();
    writeFileSync(path, Buffer.alloc(8_192, 0x5a));
    const store = track(sqliteStore({ path }));
    await storeErrorOf(() => store.open("o"));
    // The operator restores the file (here: removes the garbage; a fresh database is created).
    writeFileSync(path, "");
    expect(store.open("o")).toBe(1);
  });
});

/**
 * Another process takes the write lock on `path` and holds it for `holdMs`, then commits.
 * Resolves once the lock is held (the caller then blocks on it synchronously).
 */
function holdLockInChild(path: string, holdMs: number): Promise<void> {
  const script = `
    const Database = require("better-sqlite3");
    const db = new Database(process.argv[1]);
    db.exec("BEGIN IMMEDIATE");
    db.prepare("UPDATE meta SET value = value WHERE key = 'owner'").run();
    process.stdout.write("locked\\n");
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(process.argv[2]));
    db.exec("COMMIT");
    db.close();
  `;
  const child = spawn(process.execPath, ["-e", script, path, String(holdMs)], { cwd: process.cwd(), stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => code !== 0 && reject(new Error(`lock holder exited ${code}`)));
    createInterface({ input: child.stdout }).once("line", () => resolve());
  });
}
