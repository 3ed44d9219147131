import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { StoreError } from "../errors.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "./sqlite-schema.ts";
import { rowToClaim, rowToRun, type ClaimRowDb, type RunRowDb } from "./rows.ts";
import type { ClaimResult, HeartbeatStore, StoredAgentState } from "./types.ts";

export interface SqliteStoreOptions {
  /** Database file; created (with its folder) on first open. */
  readonly path: string;
  /** How long a write waits for a lock held by another connection. Default 5 s. */
  readonly busyTimeoutMs?: number;
}

const CLAIM_RETENTION_MS = 7 * 24 * 3_600_000;

/**
 * The embedded durable store on better-sqlite3: WAL mode, a busy timeout, migrations
 * versioned in the database. Synchronous, so a gateway on it starts in one step.
 * Every failure is a `StoreError` naming the file and the problem.
 */
export function sqliteStore(options: SqliteStoreOptions): HeartbeatStore {
  const path = resolve(options.path);
  let db: Database.Database | undefined;
  let statements: ReturnType<typeof prepare> | undefined;

  const fail = (err: unknown, doing: string): never => {
    throw toStoreError(path, err, doing);
  };
  const q = (): ReturnType<typeof prepare> => {
    if (!statements) throw new StoreError(path, "store is not open");
    return statements;
  };
  const guard = <T>(doing: string, fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      return fail(err, doing);
    }
  };

  return {
    location: path,
    open(owner) {
      return guard("opening", () => {
        if (!db) {
          mkdirSync(dirname(path), { recursive: true });
          // Assigned only once fully open: a failed open leaves nothing half-open behind, and a retry starts clean.
          const fresh = new Database(path, { timeout: options.busyTimeoutMs ?? 5_000 });
          try {
            migrate(fresh, path); // refuses a newer schema before changing anything, WAL included
            fresh.pragma("journal_mode = WAL");
            fresh.pragma("synchronous = NORMAL");
            statements = prepare(fresh);
            db = fresh;
          } catch (err) {
            fresh.close();
            throw err;
          }
        }
        const s = q();
        return db.transaction(() => {
          const epoch = Number(s.getMeta.get("epoch")?.value ?? 0) + 1;
          s.setMeta.run(String(epoch), "epoch");
          s.setMeta.run(owner, "owner");
          return epoch;
        }).immediate();
      });
    },
    loadAgents() {
      return guard("loading agents", () =>
        q().loadAgents.all().map((row) => JSON.parse(row.state) as StoredAgentState),
      );
    },
    saveAgents(states, epoch) {
      return guard("saving agents", () => {
        const s = q();
        return db!.transaction(() => {
          if (currentEpoch(s) > epoch) return false;
          for (const st of states) s.saveAgent.run(st.agentId, JSON.stringify(st), st.updatedAt);
          return true;
        }).immediate();
      });
    },
    deleteAgents(ids, epoch) {
      return guard("deleting agents", () => {
        const s = q();
        return db!.transaction(() => {
          if (currentEpoch(s) > epoch) return false;
          for (const id of ids) s.deleteAgent.run(id);
          return true;
        }).immediate();
      });
    },
    claim(c): ClaimResult {
      return guard("claiming a run", () => {
        assertLease(path, c.leaseExpiresAt);
        const s = q();
        return db!.transaction((): ClaimResult => {
          const epoch = currentEpoch(s);
          if (epoch > c.epoch) return { ok: false, reason: "fenced", currentEpoch: epoch };
          const inserted = s.insertClaim.run(c.agentId, c.slotKey, c.runId, c.owner, c.epoch, c.claimedAt, c.leaseExpiresAt);
          return inserted.changes === 1 ? { ok: true } : { ok: false, reason: "slot-taken" };
        }).immediate();
      });
    },
    renew(agentId, slotKey, epoch, leaseExpiresAt) {
      return guard("renewing a lease", () => assertLease(path, leaseExpiresAt) && q().renewClaim.run(leaseExpiresAt, agentId, slotKey, epoch, epoch).changes === 1);
    },
    finish(agentId, slotKey, epoch, outcome, finishedAt) {
      return guard("finishing a run", () => q().finishClaim.run(outcome, finishedAt, agentId, slotKey, epoch, epoch).changes === 1);
    },
    reap(now) {
      return guard("reaping expired claims", () => {
        const s = q();
        return db!.transaction(() => {
          const expired = s.expiredClaims.all(now).map(rowToClaim);
          s.expireClaims.run(now, now);
          s.pruneClaims.run(now - CLAIM_RETENTION_MS);
          return expired;
        }).immediate();
      });
    },
    appendRuns(records, epoch, keep) {
      return guard("recording run history", () => {
        const s = q();
        return db!.transaction(() => {
          if (currentEpoch(s) > epoch) return false;
          const agents = new Set<string>();
          for (const r of records) {
            s.insertRun.run(r.agentId, r.runId, r.startedAt, r.finishedAt, r.durationMs, r.status, JSON.stringify(r.reasons),
              r.usage ? JSON.stringify(r.usage) : null, r.reason, r.error);
            agents.add(r.agentId);
          }
          for (const id of agents) s.pruneRuns.run(id, id, keep);
          return true;
        }).immediate();
      });
    },
    loadRuns(agentId, limit) {
      return guard("loading run history", () => q().loadRuns.all(agentId, limit).map(rowToRun));
    },
    close() {
      if (db?.open) db.close();
      db = undefined;
      statements = undefined;
    },
  };
}





function prepare(db: Database.Database) {
  // Fencing: a write is refused when the store's epoch has moved past the writer's.
  const notFenced = `(SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'epoch') <= ?`;
  return {
    getMeta: db.prepare<[string], { value: string }>(`SELECT value FROM meta WHERE key = ?`),
    setMeta: db.prepare<[string, string]>(`UPDATE meta SET value = ? WHERE key = ?`),
    loadAgents: db.prepare<[], { state: string }>(`SELECT state FROM agent_state ORDER BY agent_id`),
    saveAgent: db.prepare<[string, string, number]>(
      `INSERT INTO agent_state (agent_id, state, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (agent_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
    ),
    deleteAgent: db.prepare<[string]>(`DELETE FROM agent_state WHERE agent_id = ?`),
    insertClaim: db.prepare<[string, string, number, string, number, number, number]>(
      `INSERT INTO run_claim (agent_id, slot_key, run_id, owner, epoch, claimed_at, lease_expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (agent_id, slot_key) DO NOTHING`,
    ),
    // Seed 003: renewing extends and never clears or shortens (MAX keeps the later expiry).
    renewClaim: db.prepare<[number, string, string, number, number]>(
      `UPDATE run_claim SET lease_expires_at = MAX(lease_expires_at, ?)
       WHERE agent_id = ? AND slot_key = ? AND status = 'open' AND epoch = ? AND ${notFenced}`,
    ),
    finishClaim: db.prepare<[string, number, string, string, number, number]>(
      `UPDATE run_claim SET status = ?, finished_at = ?
       WHERE agent_id = ? AND slot_key = ? AND status = 'open' AND epoch = ? AND ${notFenced}`,
    ),
    expiredClaims: db.prepare<[number], ClaimRowDb>(
      `SELECT agent_id, slot_key, run_id, owner, epoch, claimed_at, lease_expires_at
       FROM run_claim WHERE status = 'open' AND lease_expires_at <= ?`,
    ),
    expireClaims: db.prepare<[number, number]>(
      `UPDATE run_claim SET status = 'aborted', reason = 'lease-expired', finished_at = ?
       WHERE status = 'open' AND lease_expires_at <= ?`,
    ),
    pruneClaims: db.prepare<[number]>(`DELETE FROM run_claim WHERE status <> 'open' AND finished_at < ?`),
    insertRun: db.prepare<[string, number, number, number, number, string, string, string | null, string | null, string | null]>(
      `INSERT INTO run_history (agent_id, run_id, started_at, finished_at, duration_ms, status, reasons, usage, reason, error)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    pruneRuns: db.prepare<[string, string, number]>(
      `DELETE FROM run_history WHERE agent_id = ? AND seq NOT IN
         (SELECT seq FROM run_history WHERE agent_id = ? ORDER BY seq DESC LIMIT ?)`,
    ),
    loadRuns: db.prepare<[string, number], RunRowDb>(
      `SELECT agent_id, run_id, started_at, finished_at, duration_ms, status, reasons, usage, reason, error
       FROM run_history WHERE agent_id = ? ORDER BY seq DESC LIMIT ?`,
    ),
  };
}

function currentEpoch(s: ReturnType<typeof prepare>): number {
  return Number(s.getMeta.get("epoch")?.value ?? 0);
}

function migrate(db: Database.Database, path: string): void {
  const check = (): number => {
    const version = Number(db.pragma("user_version", { simple: true }));
    if (version > SCHEMA_VERSION) {
      throw new StoreError(path, `schema version ${version} is newer than this runtime's ${SCHEMA_VERSION}; upgrade heartbeat-runtime`);
    }
    return version;
  };
  if (check() === SCHEMA_VERSION) return;
  // One immediate transaction that re-reads the version: two processes migrating at once do it once.
  db.transaction(() => {
    for (let v = check(); v < SCHEMA_VERSION; v++) {
      db.exec(MIGRATIONS[v] ?? "");
      db.pragma(`user_version = ${v + 1}`);
    }
  }).immediate();
}

/** Seed 003: a lease is a finite time, or the reaper could never expire it. */
function assertLease(path: string, leaseExpiresAt: number): true {
  if (typeof leaseExpiresAt !== "number" || !Number.isFinite(leaseExpiresAt)) {
    throw new StoreError(path, `lease_expires_at must be a finite time, got ${String(leaseExpiresAt)}`);
  }
  return true;
}

/** better-sqlite3's errors, named for what an operator can do about them. */
export function toStoreError(path: string, err: unknown, doing: string): StoreError {
  if (err instanceof StoreError) return err;
  const code = (err as { code?: unknown })?.code;
  const message = err instanceof Error ? err.message : String(err);
  const problem = (() => {
    switch (code) {
      case "SQLITE_NOTADB":
      case "SQLITE_CORRUPT":
        return "is not a heartbeat SQLite database or is corrupt";
      case "SQLITE_FULL":
        return "the disk is full";
      case "SQLITE_BUSY":
      case "SQLITE_LOCKED":
        return "the database is locked by another process";
      case "SQLITE_READONLY":
        return "the database is read-only";
      case "SQLITE_CANTOPEN":
        return "cannot be opened (missing folder or no permission)";
      case "SQLITE_IOERR":
        return "an I/O error occurred";
      default:
        return message;
    }
  })();
  return new StoreError(path, `${doing} failed: ${problem}`, { cause: err });
}
