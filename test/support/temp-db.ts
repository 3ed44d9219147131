import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Temporary SQLite files for store tests, and a second, independent better-sqlite3
 * connection to look at what a store really wrote (rows, pragmas) without going
 * through the port under test.
 */

const dirs = new Set<string>();

/** A fresh temporary folder; removed by `removeTempDirs()`. */
export function tempDir(prefix = "hb-store-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

/** A path for a database file that does not exist yet, in a fresh temporary folder. */
export function tempDbPath(name = "state.db"): string {
  return join(tempDir(), name);
}

export function removeTempDirs(): void {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

export interface ClaimRowView {
  agent_id: string;
  slot_key: string;
  run_id: number;
  owner: string;
  epoch: number;
  claimed_at: number;
  lease_expires_at: number | null;
  status: string;
  reason: string | null;
  finished_at: number | null;
}

/** A read-only peek at a store's file through its own connection (closed after each call). */
export function peek<T>(path: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

export function claimRows(path: string): ClaimRowView[] {
  return peek(path, (db) => db.prepare<[], ClaimRowView>(`SELECT * FROM run_claim ORDER BY claimed_at, agent_id, slot_key`).all());
}

export function storedStates(path: string): Map<string, { dueAt: number | null; runCount: number; pending: string[]; openAlerts: string[] } & Record<string, unknown>> {
  return peek(path, (db) => {
    const rows = db.prepare<[], { agent_id: string; state: string }>(`SELECT agent_id, state FROM agent_state`).all();
    return new Map(rows.map((r) => [r.agent_id, JSON.parse(r.state)]));
  });
}

export function metaValue(path: string, key: string): string | undefined {
  return peek(path, (db) => db.prepare<[string], { value: string }>(`SELECT value FROM meta WHERE key = ?`).get(key)?.value);
}
