/**
 * The live inspector page: GET / and its assets under /assets/, served from
 * src/server/page/ on disk. Nothing is fetched from anywhere else; the Content-Security-Policy
 * says so to the browser too (every source is 'self').
 */
import type { FastifyInstance } from "fastify";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const PAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), "page");

const ASSETS: Readonly<Record<string, string>> = {
  "app.js": "text/javascript; charset=utf-8",
  "app.css": "text/css; charset=utf-8",
  "favicon.svg": "image/svg+xml",
};

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

export function pageRoutes(app: FastifyInstance, dir = PAGE_DIR): void {
  const headers = { "cache-control": "no-cache", "x-content-type-options": "nosniff", "referrer-policy": "no-referrer" };
  app.get("/", async (_req, reply) => {
    const html = await readFile(join(dir, "index.html"));
    return reply.headers({ ...headers, "content-security-policy": CSP }).type("text/html; charset=utf-8").send(html);
  });
  app.get("/favicon.ico", async (_req, reply) => reply.redirect("/assets/favicon.svg", 301));
  app.get<{ Params: { name: string } }>("/assets/:name", async (req, reply) => {
    const type = Object.hasOwn(ASSETS, req.params.name) ? ASSETS[req.params.name] : undefined;
    if (type === undefined) return reply.code(404).send({ error: `no asset ${JSON.stringify(req.params.name)}`, statusCode: 404 });
    return reply.headers(headers).type(type).send(await readFile(join(dir, req.params.name)));
  });
}
