/**
 * `npm run visualize`: writes visualizations/*.mmd and visualizations/README.md from
 * the machines. `--check` fails if the committed files differ from what they generate.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AnyStateMachine } from "xstate";
import { gatewayMachine } from "../../machines/gateway.ts";
import { heartbeatMachine } from "../../machines/heartbeat.ts";
import { toMermaid } from "./mermaid.ts";

export const MACHINES: ReadonlyArray<{ name: string; title: string; machine: AnyStateMachine }> = [
  { name: "heartbeat", title: "Heartbeat (one agent)", machine: heartbeatMachine },
  { name: "gateway", title: "Gateway (the supervisor)", machine: gatewayMachine },
];

export function generatedFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const page = ["# Machine diagrams", "", "Generated from `machines/` by `npm run visualize`; do not edit by hand.", ""];
  for (const { name, title, machine } of MACHINES) {
    const mermaid = toMermaid(machine);
    files.set(`${name}.mmd`, mermaid);
    page.push(`## ${title}`, "", "```mermaid", mermaid.trimEnd(), "```", "");
  }
  files.set("README.md", page.join("\n"));
  return files;
}

export const VIS_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "visualizations");

/** Write the generated files (or, with `check`, write nothing): returns the files that differed. */
export function syncVisualizations(check: boolean, dir = VIS_DIR): string[] {
  const differing: string[] = [];
  if (!check) mkdirSync(dir, { recursive: true });
  for (const [file, content] of generatedFiles()) {
    const path = join(dir, file);
    const current = existsSync(path) ? readFileSync(path, "utf8") : undefined;
    if (current === content) continue;
    differing.push(file);
    if (!check) writeFileSync(path, content);
  }
  return differing;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes("--check");
  const stale = syncVisualizations(check);
  if (check && stale.length > 0) {
    console.error(`visualizations are stale (${stale.join(", ")}): run npm run visualize`);
    process.exit(1);
  }
  console.log(check ? "visualizations up to date" : `wrote ${VIS_DIR}`);
}
