#!/usr/bin/env node
// The `heartbeat-gateway` command. Runs the TypeScript sources through tsx, so it works
// from a clean clone without a build step.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli.ts");
const code = await main(process.argv.slice(2));
process.exit(code);
