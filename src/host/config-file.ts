/**
 * The daemon's config file (JSON or YAML): the agents as the library takes them, plus
 * how each one runs (`command` or `webhook`), lane probes and the API token.
 *
 * Every error names the file, the path of the field and the problem:
 *   heartbeat.config.yaml: agents[2].every: "banana" is not a duration (use e.g. "90s", "30m", "1.5h")
 * Unknown keys are errors. Relative paths (a command's working directory, busy files)
 * are resolved against the config file's folder.
 */
import { readFileSync } from "node:fs";
import { dirname, extname, resolve } from "node:path";
import { parseDocument } from "yaml";
import { z } from "zod";
import { ConfigError } from "../errors.ts";
import type { AgentConfig, PolicyConfig } from "../index.ts";
import { resolveAgents, resolvePolicy } from "../policy/config.ts";
import { storeSchema, storeSpec, type PostgresSpec } from "./store-config.ts";

/** How one agent's heartbeat runs. */
export type RunSpec =
  | { readonly kind: "command"; readonly command: string; readonly cwd: string }
  | { readonly kind: "webhook"; readonly url: string; readonly headers: Readonly<Record<string, string>> };

export interface LaneFiles {
  /** While this file exists the main lane is busy (every agent defers with `main-lane-busy`). */
  readonly mainBusyFile?: string;
  /** sessionKey → file; while it exists that session's agents defer with `session-lane-busy`. */
  readonly sessionBusyFiles: ReadonlyMap<string, string>;
}

export interface DaemonConfig {
  /** The path as given (used in messages). */
  readonly file: string;
  readonly agents: AgentConfig[];
  readonly policy: PolicyConfig | undefined;
  readonly token: string | undefined;
  readonly runners: ReadonlyMap<string, RunSpec>;
  readonly lanes: LaneFiles;
  /** `store: { postgres, … }`: state on Postgres, agents shared with the other gateways on it (src/host/store-config.ts). */
  readonly store: PostgresSpec | undefined;
}

/** A config file that cannot be used; the message is `FILE: path.of.field: problem`. */
export class ConfigFileError extends Error {
  override readonly name = "ConfigFileError";
  constructor(
    readonly file: string,
    readonly field: string | undefined,
    readonly problem: string,
  ) {
    super(field === undefined ? `${file}: ${problem}` : `${file}: ${field}: ${problem}`);
  }
}

const HOST_KEYS = ["command", "webhook"] as const;

const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "is not a valid header name");
const webhookSchema = z.union([
  z.string(),
  z.strictObject({ url: z.string(), headers: z.record(headerName, z.string()).optional() }),
]);
const hostFieldsSchema = z.object({
  command: z.string().trim().min(1).optional(),
  webhook: webhookSchema.optional(),
});
const busySchema = z.strictObject({ busyFile: z.string().trim().min(1) });
const fileSchema = z.strictObject({
  token: z.string().trim().min(1).optional(),
  policy: z.unknown().optional(),
  lanes: z
    .strictObject({
      main: busySchema.optional(),
      sessions: z.record(z.string().min(1), busySchema).optional(),
    })
    .optional(),
  agents: z.array(z.unknown()),
  store: storeSchema.optional(),
});

/** Reads, parses and validates a config file. Throws ConfigFileError. */
export function loadConfigFile(file: string): DaemonConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigFileError(file, undefined, code === "ENOENT" ? "no such file" : `cannot read: ${(err as Error).message}`);
  }
  return parseConfigText(text, file);
}

/** Parses config text; the format comes from the file's extension (.json, .yaml, .yml). */
export function parseConfigText(text: string, file: string): DaemonConfig {
  const raw = parseSyntax(text, file);
  const dir = dirname(resolve(file));
  try {
    return validate(raw, file, dir);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigFileError(file, err.field, err.problem);
    throw err;
  }
}

function parseSyntax(text: string, file: string): unknown {
  const ext = extname(file).toLowerCase();
  if (ext === ".json") {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new ConfigFileError(file, undefined, `invalid JSON: ${jsonProblem(text, (err as Error).message)}`);
    }
  }
  if (ext === ".yaml" || ext === ".yml") {
    const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    const error = doc.errors[0];
    if (error) {
      const pos = error.linePos?.[0];
      const where = pos ? `line ${pos.line}, column ${pos.col}: ` : "";
      const problem = firstLine(error.message).replace(/ at line \d+, column \d+:?\s*$/, "");
      throw new ConfigFileError(file, undefined, `invalid YAML: ${where}${problem}`);
    }
    return doc.toJS() as unknown;
  }
  throw new ConfigFileError(file, undefined, `unsupported format "${ext || "(none)"}" (use .json, .yaml or .yml)`);
}

function validate(raw: unknown, file: string, dir: string): DaemonConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ConfigError("(top level)", `expected an object with "agents", got ${typeName(raw)}`);
  }
  const top = parse(fileSchema, raw, "");
  const policy = top.policy === undefined ? undefined : (top.policy as PolicyConfig);
  if (policy !== undefined) resolvePolicy(policy, "policy");

  // The library's own fields are checked by the library's resolver (same paths, same messages).
  const agents: AgentConfig[] = [];
  const hostFields: unknown[] = [];
  top.agents.forEach((entry, i) => {
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw new ConfigError(`agents[${i}]`, `expected an object, got ${typeName(entry)}`);
    }
    const rest: Record<string, unknown> = { ...(entry as Record<string, unknown>) };
    const host: Record<string, unknown> = {};
    for (const key of HOST_KEYS) {
      if (key in rest) host[key] = rest[key];
      delete rest[key];
    }
    agents.push(rest as unknown as AgentConfig);
    hostFields.push(host);
  });
  resolveAgents(agents, "agents");

  const runners = new Map<string, RunSpec>();
  hostFields.forEach((h, i) => {
    const at = `agents[${i}]`;
    const fields = parse(hostFieldsSchema, h, at);
    const id = (agents[i] as AgentConfig).id;
    if (fields.command !== undefined && fields.webhook !== undefined) {
      throw new ConfigError(`${at}.webhook`, "cannot be combined with command (give one way to run)");
    }
    if (fields.command !== undefined) runners.set(id, { kind: "command", command: fields.command, cwd: dir });
    else if (fields.webhook !== undefined) runners.set(id, webhookSpec(fields.webhook, `${at}.webhook`));
    else throw new ConfigError(at, `agent "${id}" needs a "command" or a "webhook" to run`);
  });

  const sessionKeys = new Set(agents.map((a) => a.sessionKey).filter((k) => k !== undefined));
  const sessionBusyFiles = new Map<string, string>();
  for (const [key, lane] of Object.entries(top.lanes?.sessions ?? {})) {
    if (!sessionKeys.has(key)) {
      throw new ConfigError(`lanes.sessions[${JSON.stringify(key)}]`, `no agent has sessionKey ${JSON.stringify(key)}`);
    }
    sessionBusyFiles.set(key, resolve(dir, lane.busyFile));
  }
  const main = top.lanes?.main;
  const lanes: LaneFiles = main ? { mainBusyFile: resolve(dir, main.busyFile), sessionBusyFiles } : { sessionBusyFiles };
  return { file, agents, policy, token: top.token, runners, lanes, store: storeSpec(top.store) };
}

function webhookSpec(value: z.infer<typeof webhookSchema>, at: string): RunSpec {
  const { url, headers } = typeof value === "string" ? { url: value, headers: {} } : { url: value.url, headers: value.headers ?? {} };
  const field = typeof value === "string" ? at : `${at}.url`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(field, `${JSON.stringify(url)} is not a URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new ConfigError(field, `${JSON.stringify(url)} must be an http: or https: URL`);
  }
  return { kind: "webhook", url: parsed.href, headers };
}

/** Runs a zod schema; its first issue becomes a ConfigError at the issue's path. */
function parse<T extends z.ZodType>(schema: T, input: unknown, base: string): z.output<T> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  // An unknown key says more than what is missing beside it (a typo of a required key).
  const issue = result.error.issues.find((i) => i.code === "unrecognized_keys") ?? result.error.issues[0];
  const at = joinPath(base, issue?.path ?? []);
  if (!issue) throw new ConfigError(at || "(top level)", "invalid");
  switch (issue.code) {
    case "unrecognized_keys":
      throw new ConfigError(joinPath(at, [issue.keys[0] ?? "?"]), "unknown key");
    case "invalid_type":
      if (issue.input === undefined) throw new ConfigError(at, "required");
      throw new ConfigError(at, `expected ${withArticle(issue.expected)}, got ${typeName(issue.input)}`);
    case "invalid_union":
      throw new ConfigError(at, "expected a URL string or { url, headers }");
    case "too_small":
      throw new ConfigError(at, "must not be empty");
    default:
      throw new ConfigError(at || "(top level)", issue.message);
  }
}

function joinPath(base: string, path: readonly PropertyKey[]): string {
  let out = base;
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (typeof key === "string" && /^[A-Za-z_$][\w$]*$/.test(key)) out += out === "" ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

/**
 * Node's JSON errors do not always say where (Node 20 quotes the text instead): a person
 * wants a line and a column, so ask the YAML parser (JSON is YAML) where it stumbles.
 */
function jsonProblem(text: string, message: string): string {
  const problem = firstLine(message.replace(/, ".*" is not valid JSON$/s, ""))
    .replace(/ in JSON at position \d+.*$/, "")
    .replace(/ \(line \d+ column \d+\)$/, "");
  const m = /position (\d+)/.exec(message);
  if (m) {
    const pos = Number(m[1]);
    const before = text.slice(0, pos);
    return `line ${before.split("\n").length}, column ${pos - before.lastIndexOf("\n")}: ${problem}`;
  }
  const at = parseDocument(text).errors[0]?.linePos?.[0];
  return at ? `line ${at.line}, column ${at.col}: ${problem}` : problem;
}

function firstLine(s: string): string {
  return s.split("\n")[0] ?? s;
}

function withArticle(noun: string): string {
  return /^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`;
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}
