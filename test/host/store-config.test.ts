import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.ts";
import { ConfigFileError, parseConfigText } from "../../src/host/config-file.ts";
import { openDaemonStore } from "../../src/host/store-config.ts";

/** The daemon's `store` section: Postgres for several gateways, checked with errors naming the field. */

const withStore = (store: unknown): string => JSON.stringify({ store, agents: [{ id: "a", every: "5s", command: "true" }] });
function errorOf(text: string): string {
  try {
    parseConfigText(text, "gw.json");
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigFileError);
    return (err as Error).message;
  }
  throw new Error("expected the config to be rejected");
}

describe("config file: store", () => {
  it("is SQLite when absent; `postgres` with lease timings is shared by default", () => {
    expect(parseConfigText(withStore(undefined), "gw.json").store).toBeUndefined();
    expect(parseConfigText(withStore({ postgres: "env:HEARTBEAT_PG_URL", schema: "hb", leaseTtl: "2s", renewEvery: "600ms" }), "gw.json").store).toEqual({
      kind: "postgres",
      postgres: "env:HEARTBEAT_PG_URL",
      schema: "hb",
      shared: { leaseTtl: "2s", renewEvery: "600ms" },
    });
    expect(parseConfigText(withStore({ postgres: "postgres://u:p@db:5432/hb", shared: false }), "gw.json").store).toMatchObject({ shared: false });
  });

  it("refuses what it cannot use, naming the field", () => {
    expect(errorOf(withStore({ postgres: "mysql://x" }))).toMatch(/^gw\.json: store\.postgres: expected a postgres:\/\/ URL or "env:NAME"/);
    expect(errorOf(withStore({ postgres: "env:X", leaseTtl: "2s", renewEvery: "1.5s" }))).toMatch(/^gw\.json: store\.renewEvery: must be positive and at most half of leaseTtl/);
    expect(errorOf(withStore({ postgres: "env:X", leaseTtl: "banana" }))).toMatch(/^gw\.json: store\.leaseTtl: /);
    expect(errorOf(withStore({ postgres: "env:X", ttl: "2s" }))).toMatch(/^gw\.json: store\.ttl: unknown key/);
    expect(errorOf(withStore({}))).toMatch(/^gw\.json: store\.postgres: required/);
  });

  it("reads the URL from the environment variable it names; an unset one is a ConfigError naming it", () => {
    const spec = parseConfigText(withStore({ postgres: "env:HB_TEST_PG_UNSET" }), "gw.json").store;
    expect(() => openDaemonStore(spec, "./x.db", {})).toThrow(ConfigError);
    expect(() => openDaemonStore(spec, "./x.db", {})).toThrow(/HB_TEST_PG_UNSET is not set/);
    const store = openDaemonStore(spec, "./x.db", { HB_TEST_PG_UNSET: "postgres://app:secret@db.internal:5432/hb" });
    expect(store.location).toBe("postgres://app@db.internal:5432/hb");
    expect(store.ownership?.leaseTtlMs).toBe(15_000);
    expect(openDaemonStore(undefined, "./x.db", {}).ownership).toBeUndefined();
  });
});
