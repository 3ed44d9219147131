import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGateway, type AgentConfig, type Gateway } from "../../src/index.ts";
import { createServer } from "../../src/server/app.ts";

// The live page in a real browser: Debian's chromium driven by playwright-core (never a
// downloaded browser). `.ci/run` installs it; locally: apt-get install chromium.
const CHROMIUM = process.env.HEARTBEAT_CHROMIUM ?? "/usr/bin/chromium";
const OUTPUT = process.env.HEARTBEAT_TEST_OUTPUT ?? join(fileURLToPath(new URL(".", import.meta.url)), "__output__");
const TOKEN = "page-token";

const AGENTS: AgentConfig[] = [
  { id: "alpha", every: "1h" },
  { id: "beta", every: "2s", sessionKey: "chat" },
  { id: "gamma", every: "1h", runTimeout: "1s" },
  { id: "sleeper", every: "0m" },
];

let gateway: Gateway;
let app: ReturnType<typeof createServer>;
let browser: BrowserContext;
let url = "";
let profile = "";
const requests: string[] = [];

beforeAll(async () => {
  gateway = createGateway({
    agents: AGENTS,
    policy: { coalesceMs: 0 },
    logger: false,
    runHeartbeat: async ({ agentId, signal }) => {
      if (agentId === "gamma") await new Promise((r) => signal.addEventListener("abort", r, { once: true })); // hangs: the watchdog alerts
      await new Promise((r) => setTimeout(r, 150));
      return { status: "ran", usage: { inputTokens: 40, outputTokens: 8 } };
    },
  });
  gateway.start();
  app = createServer(gateway, { token: TOKEN, agents: () => AGENTS });
  await app.listen({ host: "127.0.0.1", port: 0 });
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/`;
  gateway.requestWake({ agentId: "gamma", reason: "manual" });

  profile = mkdtempSync(join(tmpdir(), "hb-chromium-"));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  // Record every request the page makes; anything not for this machine is refused (and fails the test below).
  await browser.route("**/*", (route) => {
    const u = new URL(route.request().url());
    requests.push(route.request().url());
    return u.hostname === "127.0.0.1" || u.hostname === "localhost" ? route.continue() : route.abort();
  });
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await gateway?.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)("the live inspector page (chromium)", () => {
  it("shows every agent with its state, lights the statechart, wakes from the page, and fetches nothing from outside", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    await page.goto(url);

    // Every agent, with the state the API reports.
    const cards = page.locator("article.agent");
    await expect.poll(() => cards.count(), { timeout: 10_000 }).toBe(AGENTS.length);
    const names = await page.locator("article.agent h2.name").allTextContents();
    expect(names.sort()).toEqual(AGENTS.map((a) => a.id).sort());
    const health = gateway.health();
    for (const a of health.agents.filter((x) => x.id !== "beta")) {
      // (beta changes state every 2 s; the others hold still)
      const card = page.locator(`article.agent[data-agent="${a.id}"]`);
      await expect.poll(() => card.locator(".state-badge").textContent(), { timeout: 5_000 }).toBe(a.state);
      await expect.poll(() => card.locator(`.sc-node.lit`).getAttribute("data-state")).toBe(a.state);
    }
    // The statechart is drawn from the machine: every state of it, in every card.
    expect(await page.locator('#machine-chart .sc-node').evaluateAll((ns) => ns.map((n) => n.getAttribute("data-state")).sort())).toEqual([
      "deferred",
      "due",
      "idle",
      "running",
      "stopped",
    ]);
    await expect.poll(() => page.locator("#conn").getAttribute("data-state")).toBe("live");

    // Live: beta runs on its own and its runs appear on its timeline.
    await expect.poll(() => page.locator('article.agent[data-agent="beta"] .tl-run').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    // gamma hung and the watchdog fired: the alert is on the page.
    await expect.poll(() => page.locator('article.agent[data-agent="gamma"] .badge').allTextContents(), { timeout: 10_000 }).toContain("▲ run-timed-out");
    await expect.poll(() => page.locator("#health").textContent()).toMatch(/alert/);

    // Wake alpha from the page: it asks for the token, then a manual run appears on alpha's timeline.
    const alpha = page.locator('article.agent[data-agent="alpha"]');
    expect(await alpha.locator(".tl-run").count()).toBe(0);
    await alpha.locator("button.wake").click();
    await page.locator("#token-dialog").waitFor({ state: "visible" });
    await page.locator("#token-input").fill(TOKEN);
    await page.locator("#token-save").click();
    await expect.poll(() => alpha.locator('.tl-run[data-reasons="manual"]').count(), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => alpha.locator(".notice").textContent()).toBe("woken (manual)");
    await expect.poll(() => alpha.locator(".events li").first().textContent(), { timeout: 5_000 }).toMatch(/run #1 ran in .* · 48 tokens/);

    // A wrong token is refused and said so; nothing runs.
    await page.evaluate('sessionStorage.setItem("heartbeat-token", "wrong")');
    await alpha.locator("button.wake").click();
    await expect.poll(() => alpha.locator(".notice").textContent()).toBe("wake refused: wrong token");
    expect(await alpha.locator(".tl-run").count()).toBe(1);

    mkdirSync(OUTPUT, { recursive: true });
    writeFileSync(join(OUTPUT, ".gitignore"), "*\n");
    await page.screenshot({ path: join(OUTPUT, "page.png"), fullPage: true });
    console.log(`page screenshot: ${join(OUTPUT, "page.png")}`);

    // (the refused wake is logged by the browser as a failed 401 load; anything else is a page error)
    expect(errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
    expect(requests.length).toBeGreaterThan(3);
    const outside = requests.filter((r) => !["127.0.0.1", "localhost"].includes(new URL(r).hostname));
    expect(outside).toEqual([]);
  }, 60_000);

  it("pauses and resumes an agent from the page (badge on, badge off), and shows run history and upcoming runs", async () => {
    const page = await browser.newPage(); // a new tab: no token yet
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    await page.goto(url);
    const alpha = page.locator('article.agent[data-agent="alpha"]');
    await alpha.waitFor({ state: "visible", timeout: 10_000 });
    expect(await alpha.locator(".badge.paused").count()).toBe(0);
    await expect.poll(() => alpha.locator(".upcoming").textContent(), { timeout: 5_000 }).toMatch(/^Next runs: \d\d:\d\d:\d\d \(in /);

    // Pause: the token first (once per tab), then an optional reason.
    await alpha.locator("button.pause").click();
    await page.locator("#token-dialog").waitFor({ state: "visible" });
    await page.locator("#token-input").fill(TOKEN);
    await page.locator("#token-save").click();
    await page.locator("#pause-dialog").waitFor({ state: "visible" });
    await page.locator("#pause-reason").fill("incident 42");
    await page.locator("#pause-confirm").click();
    await expect.poll(() => alpha.locator(".badge.paused").count(), { timeout: 5_000 }).toBe(1);
    expect(await alpha.locator(".badge.paused").getAttribute("title")).toMatch(/^paused since \d\d:\d\d:\d\d: incident 42$/);
    expect(gateway.health().agents.find((a) => a.id === "alpha")?.paused?.reason).toBe("incident 42");
    expect(await alpha.locator("button.resume").isVisible()).toBe(true);
    expect(await alpha.locator("button.pause").isVisible()).toBe(false);
    await expect.poll(() => alpha.locator(".upcoming").textContent()).toBe("Next runs: none while paused (resume to re-arm)");
    await expect.poll(() => alpha.locator(".notice").textContent()).toBe("paused: incident 42");

    // Resume: the badge goes, the next runs come back.
    await alpha.locator("button.resume").click();
    await expect.poll(() => alpha.locator(".badge.paused").count(), { timeout: 5_000 }).toBe(0);
    expect(gateway.health().agents.find((a) => a.id === "alpha")?.paused).toBeUndefined();
    expect(await alpha.locator("button.pause").isVisible()).toBe(true);
    await expect.poll(() => alpha.locator(".upcoming").textContent(), { timeout: 5_000 }).toMatch(/^Next runs: \d\d:\d\d:\d\d \(in /);

    // Run history: beta's last runs as bars, each as wide as its duration (on one scale).
    const beta = page.locator('article.agent[data-agent="beta"]');
    await expect.poll(() => beta.locator(".hist-run").count(), { timeout: 10_000 }).toBeGreaterThan(1);
    const bars = await beta.locator(".hist-run").evaluateAll((rs) => rs.map((r) => [Number(r.getAttribute("data-duration-ms")), Number(r.getAttribute("width"))]));
    for (const [ms, w] of bars) expect(ms! >= 0 && w! > 0).toBe(true);
    const perMs = bars.map(([ms, w]) => (w! - 3) / Math.max(1, ms!));
    // (3 is the minimum bar width the page adds to every run)
    for (const k of perMs) expect(Math.abs(k / perMs[0]! - 1)).toBeLessThan(0.02);
    expect(await beta.locator(".history-caption").textContent()).toMatch(/^Runs: last \d+ · median [\d.]+ m?s · longest [\d.]+ m?s/);

    expect(errors).toEqual([]);
    await page.close();
  }, 30_000);
});
