import { describe, expect, it } from '@jest/globals';
import { events, finished, runCli, useCleanup, waitFor } from '../helpers/cli.js';
import { DEEPSEEK, logs, world } from '../helpers/world.js';

const t = useCleanup();

/** quota_pilot_daily_tokens of one model, summed over its days and splits, from a /metrics text. */
function dailyTokens(metrics: string, model: string): number {
  return metrics
    .split('\n')
    .filter((l) => l.startsWith('quota_pilot_daily_tokens{') && l.includes(`model="${model}"`))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/** The same model's tokens over the last 7 days, as `report --json` prints them from the state file. */
async function reported(env: Record<string, string>, model: string): Promise<number> {
  const r = await runCli(['report', '--json', '--days', '7'], env);
  expect(r.code).toBe(0);
  const report = JSON.parse(r.stdout) as { days: Array<{ byModel: Record<string, { tokens: number }> }> };
  return report.days.reduce((sum, d) => sum + (d.byModel[model]?.tokens ?? 0), 0);
}

describe('run: the daily totals on /metrics', () => {
  it('are made when scraped, from the state file: a once run between two polls shows at the next scrape', async () => {
    const w = await world({ logs: logs(1, DEEPSEEK, 10, 1_000) });
    t.add(() => w.sim.close());
    // One cycle at start, and no other for 10 minutes: only the scrape can bring the once's rows to /metrics.
    const child = t.start(['run', '--interval', '600', '--listen', '127.0.0.1:0'], w.env);
    await waitFor(() => events(child.out()).some((e) => e.msg === 'cycle done'), 8000, 'the first cycle');
    const base = String(events(child.out()).find((e) => e.msg === 'quota-pilot started')!.listen);
    const scrape = async () => (await (await fetch(`${base}/metrics`)).text());

    expect(dailyTokens(await scrape(), DEEPSEEK)).toBe(10_000);
    expect(await reported(w.env, DEEPSEEK)).toBe(10_000);

    // New rows after what the first cycle read (it reads up to 10 s ago) and old enough for the once to read them.
    await new Promise((r) => setTimeout(r, 1100));
    const at = Math.floor(Date.now() / 1000) - 10;
    for (let i = 0; i < 5; i++) w.sim.addLog({ created_at: at, channel: 1, model_name: DEEPSEEK, prompt_tokens: 1_000, completion_tokens: 1_000 });
    const once = await runCli(['once'], w.env);
    expect(once.code).toBe(0);
    expect(await reported(w.env, DEEPSEEK)).toBe(20_000);
    const metrics = await scrape();
    expect(dailyTokens(metrics, DEEPSEEK)).toBe(20_000);
    // The daemon itself has not polled again.
    expect(events(child.out()).filter((e) => e.msg === 'cycle done')).toHaveLength(1);
    // The same again while nothing changed.
    expect(dailyTokens(await scrape(), DEEPSEEK)).toBe(20_000);

    child.kill('SIGTERM');
    expect((await finished(child, 10_000)).code).toBe(0);
  });
});
