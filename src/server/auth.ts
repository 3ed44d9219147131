import type { FastifyRequest } from "fastify";
import { createHash, timingSafeEqual } from "node:crypto";
import { HttpError } from "./errors.ts";

export type TokenSource = string | undefined | (() => string | undefined);

export function currentToken(source: TokenSource): string | undefined {
  const t = typeof source === "function" ? source() : source;
  return t === undefined || t === "" ? undefined : t;
}

export type AuthResult = { ok: true } | { ok: false; status: 401 | 403; error: string };

/**
 * Bearer-token check for mutations. Without a configured token every mutation is
 * refused (403): a daemon never accepts wakes from anyone by default. The comparison
 * is constant-time (both sides hashed to the same length first).
 */
export function checkBearer(header: string | undefined, source: TokenSource): AuthResult {
  const token = currentToken(source);
  if (token === undefined) {
    return { ok: false, status: 403, error: "mutations are disabled: no token is configured (set `token` in the config file or HEARTBEAT_TOKEN)" };
  }
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  if (!m) return { ok: false, status: 401, error: "missing bearer token (Authorization: Bearer <token>)" };
  const given = createHash("sha256").update(m[1] ?? "").digest();
  const expected = createHash("sha256").update(token).digest();
  if (!timingSafeEqual(given, expected)) return { ok: false, status: 401, error: "wrong token" };
  return { ok: true };
}

/**
 * An `onRequest` hook for a mutation route: authenticates before the body is even read,
 * so an unauthorized caller learns nothing else (not even whether an agent exists).
 */
export function requireBearer(source: TokenSource): (req: FastifyRequest) => Promise<void> {
  return async (req) => {
    const auth = checkBearer(req.headers.authorization, source);
    if (!auth.ok) throw new HttpError(auth.status, auth.error);
  };
}
