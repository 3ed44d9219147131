import { afterAll, describe } from "vitest";
import { memoryStore } from "../../src/store/memory.ts";
import { sqliteStore } from "../../src/store/sqlite.ts";
import { removeTempDirs, tempDbPath } from "../support/temp-db.ts";
import { storeContract, type StoreFactory } from "./contract-suite.ts";

/**
 * One contract, every store. A new store (Postgres) joins by adding a factory here:
 * a fresh store, and `reopen()` giving another handle on the same data.
 */
const stores: [string, StoreFactory][] = [
  [
    "memoryStore()",
    () => {
      const store = memoryStore();
      return { store, reopen: () => store };
    },
  ],
  [
    "sqliteStore({ path })",
    () => {
      const path = tempDbPath();
      return { store: sqliteStore({ path }), reopen: () => sqliteStore({ path }) };
    },
  ],
];

afterAll(() => removeTempDirs());

describe.each(stores)("HeartbeatStore contract: %s", (_name, factory) => {
  storeContract(factory);
});
