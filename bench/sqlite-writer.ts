import { spawn } from 'node:child_process';

/**
 * OneAPI writing its SQLite file, for the live test and the bench, in a process of its own: one consume log per tick
 * in autocommit, as one-api's RecordConsumeLog does, in rollback-journal mode (no flavor enables WAL) with OneAPI's
 * busy timeout. An insert that waits out the busy timeout fails: a billing row OneAPI lost.
 */
const SOURCE = `
import Database from 'better-sqlite3';
const [path, every, busy] = process.argv.slice(1);
const db = new Database(path, { timeout: Number(busy) });
if (db.pragma('journal_mode', { simple: true }) !== 'delete') throw new Error('expected a rollback-journal file');
const insert = db.prepare("INSERT INTO logs (user_id, created_at, type, content, username, token_name, model_name, quota, prompt_tokens, completion_tokens, channel_id, request_id, elapsed_time, is_stream) VALUES (1, ?, 2, '', 'u', 't', ?, 100, 300, 700, ?, '', 800, 0)");
const models = JSON.parse(process.env.WRITER_MODELS || '{}');
const channels = Object.keys(models).map(Number);
let inserts = 0, failed = 0, slowestMs = 0;
const errors = [];
const timer = setInterval(() => {
  const channel = channels[inserts % channels.length];
  const t = performance.now();
  try {
    insert.run(Math.floor(Date.now() / 1000), models[channel], channel);
    inserts++;
  } catch (err) {
    failed++;
    if (errors.length < 5) errors.push(String(err.code || err.message));
  }
  slowestMs = Math.max(slowestMs, performance.now() - t);
}, Number(every));
process.stdout.write('ready\\n');
process.on('SIGTERM', () => {
  clearInterval(timer);
  db.close();
  process.stdout.write(JSON.stringify({ inserts, failed, slowestMs: Math.round(slowestMs), errors }) + '\\n');
  process.exit(0);
});
`;

export interface WriterResult {
  inserts: number;
  failed: number;
  /** The longest insert, waits for quota-pilot's read locks included. */
  slowestMs: number;
  errors: string[];
}

/** Starts the writer on `path` (the repository root as cwd, where better-sqlite3 resolves); resolves once it runs. */
export async function startWriter(path: string, opts: { cwd: string; everyMs: number; busyTimeoutMs: number; models: Record<number, string> }): Promise<{ stop: () => Promise<WriterResult> }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', SOURCE, path, String(opts.everyMs), String(opts.busyTimeoutMs)], {
    cwd: opts.cwd,
    env: { ...process.env, WRITER_MODELS: JSON.stringify(opts.models) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  await new Promise<void>((res, rej) => {
    const check = setInterval(() => {
      if (out.includes('ready')) res();
      else if (child.exitCode !== null) rej(new Error(`the SQLite writer exited: ${err}`));
      else return;
      clearInterval(check);
    }, 20);
  });
  return {
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code !== 0 || !line) throw new Error(`the SQLite writer failed (${code}): ${err}`);
      return JSON.parse(line) as WriterResult;
    },
  };
}
