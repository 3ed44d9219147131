#!/usr/bin/env node
// The demo's example agent: what a heartbeat command looks like. The daemon runs it with
// AGENT_ID, SESSION_KEY and WAKE_REASONS in its environment; it does some "work" and
// prints its result as the last JSON line on stdout:
//   {"status":"ran","usage":{"inputTokens":812,"outputTokens":97}}
// A non-zero exit is a failed run. SIGTERM (the run aborted) ends it.
//
// Options (for the demo's characters):
//   --zero P          chance of finding nothing to do (0 tokens); default 0.2
//   --hang P          chance of hanging until killed (the watchdog's job); default 0
//   --fail P          chance of exiting 1; default 0
//   --hold FILE       hold a lane busy: create FILE, keep it for --for, then remove it
//   --for DURATION    how long --hold lasts, e.g. 6s; default 5s
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    zero: { type: "string", default: "0.2" },
    hang: { type: "string", default: "0" },
    fail: { type: "string", default: "0" },
    hold: { type: "string" },
    for: { type: "string", default: "5s" },
  },
});

const agent = process.env.AGENT_ID ?? "?";
const reasons = (process.env.WAKE_REASONS ?? "").split(",").filter(Boolean);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const chance = (p) => Math.random() < Number(p);
let held;
const release = () => {
  if (held) rmSync(held, { force: true });
  held = undefined;
};
process.on("SIGTERM", () => {
  release();
  process.exit(143);
});

console.log(`${agent}: woke for ${reasons.join(", ") || "?"}`);

if (values.hold) {
  // A user's reply streaming in this session: the lane is busy meanwhile.
  held = values.hold;
  mkdirSync(dirname(held), { recursive: true });
  writeFileSync(held, `${process.pid}\n`);
  await sleep(seconds(values.for) * 1000);
  release();
  const tokens = 300 + Math.round(Math.random() * 900);
  console.log(JSON.stringify({ status: "ran", usage: { inputTokens: tokens, outputTokens: Math.round(tokens / 3) } }));
  process.exit(0);
}

if (chance(values.hang)) {
  console.log(`${agent}: waiting on a tool call that never returns…`);
  await new Promise(() => setInterval(() => {}, 1 << 30));
}

await sleep(200 + Math.random() * 900);

if (chance(values.fail)) {
  console.error(`${agent}: upstream API answered 503`);
  process.exit(1);
}
if (reasons.length === 1 && reasons[0] === "interval" && chance(0.05)) {
  console.log(JSON.stringify({ status: "skipped", reason: "nothing new since the last run" }));
  process.exit(0);
}
const input = chance(values.zero) ? 0 : 200 + Math.round(Math.random() * 1800);
const output = input === 0 ? 0 : Math.round(input / (4 + Math.random() * 6));
console.log(JSON.stringify({ status: "ran", usage: { inputTokens: input, outputTokens: output } }));

function seconds(text) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new Error(`--for: "${text}" is not a duration like 5s`);
  const n = Number(m[1]);
  return m[2] === "ms" ? n / 1000 : m[2] === "m" ? n * 60 : n;
}
