/** What the host's runHeartbeat resolved to. */
export type HostResult =
  | {
      readonly status: "ran";
      readonly usage?: { readonly inputTokens: number; readonly outputTokens: number } | undefined;
    }
  | { readonly status: "skipped"; readonly reason: string };

/** How a run left `running`. Every one of them re-arms the next due time. */
export type RunOutcome =
  | { readonly status: "ran"; readonly usage: { readonly inputTokens: number; readonly outputTokens: number } | undefined }
  | { readonly status: "skipped"; readonly reason: string }
  | { readonly status: "failed"; readonly error: string }
  | { readonly status: "timed-out" }
  | { readonly status: "aborted"; readonly reason: string };

export type RunStatus = RunOutcome["status"];

/** A host result we cannot read is a failure, not a silent success. */
export function outcomeOfResult(result: unknown): RunOutcome {
  if (typeof result === "object" && result !== null && "status" in result) {
    const r = result as { status: unknown; reason?: unknown; usage?: unknown };
    if (r.status === "ran") return { status: "ran", usage: readUsage(r.usage) };
    if (r.status === "skipped") {
      return { status: "skipped", reason: typeof r.reason === "string" && r.reason ? r.reason : "host-skipped" };
    }
  }
  return { status: "failed", error: `runHeartbeat resolved to an unreadable result: ${safeJson(result)}` };
}

function readUsage(u: unknown): { inputTokens: number; outputTokens: number } | undefined {
  if (typeof u !== "object" || u === null) return undefined;
  const { inputTokens, outputTokens } = u as { inputTokens?: unknown; outputTokens?: unknown };
  if (typeof inputTokens !== "number" || typeof outputTokens !== "number") return undefined;
  if (!Number.isFinite(inputTokens) || !Number.isFinite(outputTokens)) return undefined;
  return { inputTokens, outputTokens };
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return typeof err === "string" ? err : safeJson(err);
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
