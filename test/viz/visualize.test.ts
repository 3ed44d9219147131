import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { gatewayMachine } from "../../machines/gateway.ts";
import { heartbeatMachine } from "../../machines/heartbeat.ts";
import { machineEdges } from "../../src/viz/mermaid.ts";
import { generatedFiles, VIS_DIR } from "../../src/viz/visualize.ts";

describe("visualizations", () => {
  it("the committed diagrams are exactly what the machines generate (run `npm run visualize`)", () => {
    for (const [file, content] of generatedFiles()) {
      expect(readFileSync(join(VIS_DIR, file), "utf8"), file).toBe(content);
    }
  });

  it("draws every state of the heartbeat machine and its watchdog", () => {
    const edges = machineEdges(heartbeatMachine);
    const states = new Set(edges.flatMap((e) => [e.from, e.to]));
    expect([...states].sort()).toEqual(["deferred", "due", "idle", "running", "stopped"]);
    expect(edges).toContainEqual({ from: "running", to: "idle", label: "after runTimeout" });
    expect(edges).toContainEqual({ from: "running", to: "stopped", label: "STOP" });
  });

  it("draws the gateway's supervision of crashed children", () => {
    expect(machineEdges(gatewayMachine)).toContainEqual({ from: "serving", to: "serving", label: "any child error [isChildCrash]" });
  });
});
