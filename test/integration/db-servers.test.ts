import { expect, it, jest } from '@jest/globals';
import { createServer, type Server } from 'node:net';
import { describeWith, STARTERS, type Engine } from '../helpers/databases.js';

/**
 * The cause of db-source.test.ts failing 8-9 tests in a full `npm test`: a server's port came from the kernel's
 * ephemeral range and was taken before the server bound it (by any listener on port 0 or outgoing connection of a
 * parallel suite); the server exited and the start-up waited on whoever held the port. Here other listeners churn
 * through the ephemeral range the whole time, as a busy run's simulators do: every server still starts, promptly.
 */
jest.setTimeout(120_000);

function churn(): () => void {
  const held = new Set<Server>();
  const timer = setInterval(() => {
    for (let i = 0; i < 40; i++) {
      const s = createServer();
      s.on('error', () => undefined);
      s.listen(0, '127.0.0.1', () => {
        held.add(s);
        setTimeout(() => {
          s.close();
          held.delete(s);
        }, 3000).unref();
      });
    }
  }, 20);
  return () => {
    clearInterval(timer);
    for (const s of held) s.close();
  };
}

for (const engine of ['postgres', 'mariadb'] as Engine[])
  describeWith(engine, `${engine} start-up`)(`${engine} start-up`, () => {
    it('starts three times in a row while other listeners churn through the ephemeral ports', async () => {
      const stop = churn();
      try {
        for (let i = 0; i < 3; i++) {
          const t = Date.now();
          const db = await Promise.race([STARTERS[engine](), new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`${engine} did not start in 40 s`)), 40_000).unref())]);
          expect(Date.now() - t).toBeLessThan(40_000);
          expect(db.port).toBeLessThan(32_768);
          await db.stop();
        }
      } finally {
        stop();
      }
    });
  });
