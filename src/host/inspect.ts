import type { Gateway } from "../index.ts";

export interface AttachedInspector {
  readonly description: string;
  stop(): void;
}

/**
 * `--inspect`: connects Stately's inspector (@statelyai/inspect, loaded only here) to the
 * gateway's actor system, so every heartbeat actor shows up there. With a ws:// URL it
 * streams to a WebSocket inspector server (`@statelyai/inspect/server`); without one it
 * uses the Stately Sky inspector, which needs network access to stately.ai.
 * Call before `gateway.start()` so actors are seen from their first snapshot.
 */
export async function attachInspector(gateway: Gateway, url: string | undefined, onError: (err: Error) => void): Promise<AttachedInspector> {
  const mod = await import("@statelyai/inspect");
  const inspector = url ? mod.createWebSocketInspector({ url }) : mod.createSkyInspector({ onerror: onError });
  gateway.actor.system.inspect(inspector.inspect);
  return {
    description: url ? `inspector: streaming to ${url}` : "inspector: Stately Sky (see the link it prints)",
    stop: () => inspector.stop(),
  };
}
