import { describe, expect, it } from '@jest/globals';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { events, ROOT, runCli, useCleanup, waitFor } from '../helpers/cli.js';
import { itWith } from '../helpers/tools.js';
import { DEEPSEEK, logs, TZ, world } from '../helpers/world.js';

const t = useCleanup();
const GLM = 'GLM-4-7-251222';
/** Where the screenshots go (git ignores .tmp/): the issue asks for them to be looked at. */
const SHOTS = join(ROOT, '.tmp');
const en = (n: number) => n.toLocaleString('en-US');

interface StatusJson {
  timezone: string;
  budgets: Array<{ budget: string; used: number; requests: number; percent: number; state: string; budgetTokens: number }>;
  channels: Array<{ channel: number; observedPriority: number; desiredPriority: number; defaultPriority: number | null }>;
}
interface ReportJson {
  from: string;
  to: string;
  models: string[];
  days: Array<{ day: string; byModel: Record<string, { tokens: number; requests: number; free: number; overBudget: number; unbudgeted: number }> }>;
}

/** The daemon against the simulator after its first cycle: DeepSeek over its free quota (demoted), GLM half way, paid traffic. */
async function daemon() {
  const w = await world({ logs: [...logs(1, DEEPSEEK, 42, 47_000), ...logs(3, GLM, 12, 100_000), ...logs(5, DEEPSEEK, 6, 30_000)] });
  t.add(() => w.sim.close());
  const child = t.start(['run', '--interval', '600', '--listen', '127.0.0.1:0'], w.env);
  await waitFor(() => events(child.out()).some((e) => e.msg === 'cycle done'), 8000, 'the first cycle');
  const base = String(events(child.out()).find((e) => e.msg === 'quota-pilot started')!.listen);
  return { w, child, base };
}

async function cliJson<T>(args: string[], env: Record<string, string>): Promise<T> {
  const r = await runCli([...args, '--json'], env);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as T;
}

describe('the dashboard at / and its JSON', () => {
  it('/api/status and /api/report answer what status --json and report --json print; a bad days is a 400', async () => {
    const { w, base } = await daemon();
    const api = (await (await fetch(`${base}/api/status`)).json()) as StatusJson & Record<string, unknown>;
    const cli = await cliJson<StatusJson & Record<string, unknown>>(['status'], w.env);
    // The projection fields depend on the moment each was computed; everything else is the same object.
    const steady = (s: Record<string, unknown>) => ({ ...s, budgets: (s.budgets as Array<Record<string, unknown>>).map(({ tokensPerHour, runsOutAt, ...b }) => b) });
    expect(steady(api)).toEqual(steady(cli));
    expect(api.budgets.find((b) => b.budget.startsWith('volc-deepseek'))).toMatchObject({ used: 1_974_000, requests: 42, state: 'exhausted' });

    const report = await (await fetch(`${base}/api/report?days=7`)).json();
    expect(report).toEqual(await cliJson(['report', '--days', '7'], w.env));
    const bad = await fetch(`${base}/api/report?days=50`);
    expect([bad.status, await bad.json()]).toEqual([400, { error: 'days must be a whole number from 1 to 40 (got "50")' }]);
    expect((await fetch(`${base}/nothing`)).status).toBe(404);
  });

  itWith(
    'chromium',
    'shows in Chromium the numbers status --json and report --json give, refreshes itself, fits a phone',
    async (executablePath) => {
      const { w, base } = await daemon();
      const status = await cliJson<StatusJson>(['status'], w.env);
      const report = await cliJson<ReportJson>(['report', '--days', '7'], w.env);
      const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
      t.add(() => browser.close());
      await mkdir(SHOTS, { recursive: true });

      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const res = await page.goto(`${base}/`);
      expect(res?.status()).toBe(200);
      expect(await page.title()).toBe('quota-pilot');
      expect(await page.locator('meta[http-equiv="refresh"]').getAttribute('content')).toBe('30');
      expect(await page.locator('#health').textContent()).toBe('ok');
      expect(await page.locator('header').textContent()).toContain(TZ);

      // Today's budgets: every number on screen is the one status --json gives.
      expect(await page.locator('tr[data-budget]').count()).toBe(status.budgets.length);
      for (const b of status.budgets) {
        const cell = (f: string) => page.locator(`tr[data-budget="${b.budget}"] td[data-field="${f}"]`).textContent();
        expect(await cell('used')).toBe(en(b.used));
        expect(await cell('free')).toBe(en(b.budgetTokens));
        expect(await cell('requests')).toBe(en(b.requests));
        expect(await cell('percent')).toBe(b.percent.toFixed(1));
        expect(await cell('state')).toBe(b.state);
      }
      expect(await page.locator('tr[data-budget^="volc-deepseek"] td[data-field="state"]').textContent()).toBe('exhausted');

      // The channels: priorities as status --json has them; DeepSeek demoted to 10.
      for (const c of status.channels) {
        const cell = (f: string) => page.locator(`tr[data-channel="${c.channel}"] td[data-field="${f}"]`).textContent();
        expect(await cell('priority')).toBe(String(c.observedPriority));
        expect(await cell('desired')).toBe(String(c.desiredPriority));
      }
      expect(await page.locator('tr[data-channel="1"] td[data-field="priority"]').textContent()).toBe('10');

      // The 7-day chart: one figure per model, with the report's tokens and requests per day.
      expect(await page.locator('figure[data-model]').count()).toBe(report.models.length);
      for (const m of report.models) {
        const fig = page.locator(`figure[data-model="${m}"]`);
        const tokens = report.days.reduce((s, d) => s + (d.byModel[m]?.tokens ?? 0), 0);
        expect(Number(await fig.getAttribute('data-tokens'))).toBe(tokens);
        for (const d of report.days)
          expect(await fig.locator(`text.req[data-day="${d.day}"]`).textContent()).toBe(`${en(d.byModel[m]?.requests ?? 0)} req`);
      }
      const deepseek = page.locator(`figure[data-model="${DEEPSEEK}"]`);
      expect(await deepseek.locator('rect').count()).toBe(3); // free, over the free quota, paid channel
      expect(await deepseek.locator('line.budget').count()).toBe(1);
      expect(await deepseek.locator('text.budget-label').textContent()).toBe('free 1.9M/day');

      // The demotion and its reason, and the alert it raised.
      expect(await page.locator('section', { hasText: 'Priority changes' }).textContent()).toMatch(/volc-deepseek \(#1\) 100 → 10/);
      expect(await page.locator('section', { hasText: 'Alerts' }).locator('li').count()).toBeGreaterThan(0);
      await page.screenshot({ path: join(SHOTS, 'dashboard.png'), fullPage: true });

      // A phone: one column, nothing wider than the screen.
      const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, deviceScaleFactor: 2 });
      await phone.goto(`${base}/`);
      expect(await widthOf(phone)).toBeLessThanOrEqual(390);
      expect(await phone.locator('tr[data-budget^="volc-deepseek"] td[data-field="used"]').textContent()).toBe(en(1_974_000));
      await phone.screenshot({ path: join(SHOTS, 'dashboard-phone.png'), fullPage: true });
    },
    60_000,
  );
});

// Evaluated in the page; the string form needs no DOM types here.
const widthOf = (p: Page) => p.evaluate('document.documentElement.scrollWidth') as Promise<number>;
