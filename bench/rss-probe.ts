/**
 * Preloaded into a CLI run by the bench (`node --import <this file>`): on exit, writes the process' peak RSS and
 * CPU time to the file named by $QP_BENCH_PROBE. The CLI itself knows nothing of it.
 */
import { writeFileSync } from 'node:fs';

const out = process.env.QP_BENCH_PROBE;
if (out) {
  process.on('exit', () => {
    const cpu = process.cpuUsage();
    writeFileSync(out, JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS, userUs: cpu.user, systemUs: cpu.system }));
  });
}
