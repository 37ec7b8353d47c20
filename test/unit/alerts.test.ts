import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { createNotifier, type NotifierOptions } from '../../src/alerts/notifier.js';
import { redactUrl, webhookTargets, type WebhookFormat, type WebhookTarget } from '../../src/alerts/targets.js';
import type { AlertEvent } from '../../src/events/types.js';

// Webhook alerts against a real HTTP receiver on 127.0.0.1: bodies, signatures, retries, failures, secrecy.

interface Received {
  url: string;
  body: any; // whatever the notifier sent; each test checks its shape
}
type Reply = { status?: number; body?: string } | 'hang';

let server: http.Server;
let base = '';
let received: Received[] = [];
let replies: Reply[] = [];
let logLines: string[] = [];
let sleeps: number[] = [];

const HOOK_TOKEN = 'hooktok-9f8e7d6c5b4a';
const SECRET = 'SECs3cr3t-abcdef0123456789';
const NOW_MS = Date.UTC(2026, 10, 24, 14, 50, 0, 123);
const log = pino({ level: 'debug' }, { write: (s: string) => void logLines.push(s) });
const logs = () => logLines.map((l) => JSON.parse(l) as Record<string, unknown>);
const sleep = async (ms: number) => void sleeps.push(ms);

const anEvent = (over: Partial<AlertEvent> = {}): AlertEvent => ({
  kind: 'channel-demoted',
  severity: 'warning',
  title: 'volc-deepseek demoted (budget exhausted)',
  text: 'priority 100 -> 10: 1,836,686/1,900,000 tokens (96.7%)',
  at: 1_795_000_000,
  fields: { channel: 1, name: 'volc-deepseek', from: 100, to: 10 },
  ...over,
});
const aTarget = (format: WebhookFormat, over: Partial<WebhookTarget> = {}): WebhookTarget => ({
  url: `${base}/hook/${HOOK_TOKEN}`,
  format,
  name: `webhook 1 (${format})`,
  ...over,
});
const notifier = (targets: WebhookTarget[], over: Partial<NotifierOptions> = {}) =>
  createNotifier({ targets, log, sleep, now: () => NOW_MS, timeoutMs: 2000, ...over });

beforeEach(async () => {
  received = [];
  replies = [];
  logLines = [];
  sleeps = [];
  server = http.createServer((req, res) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString('utf8')));
    req.on('end', () => {
      received.push({ url: req.url ?? '', body: JSON.parse(data) });
      const reply = replies.shift() ?? { status: 200, body: '{"errcode":0,"errmsg":"ok"}' };
      if (reply === 'hang') return;
      res.writeHead(reply.status ?? 200, { 'content-type': 'application/json' }).end(reply.body ?? '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

describe('formats, as received', () => {
  const title = '[warning] volc-deepseek demoted (budget exhausted)';
  const text = 'priority 100 -> 10: 1,836,686/1,900,000 tokens (96.7%)';
  it.each<[WebhookFormat, unknown]>([
    [
      'generic',
      {
        source: 'quota-pilot',
        kind: 'channel-demoted',
        severity: 'warning',
        title: 'volc-deepseek demoted (budget exhausted)',
        text,
        at: new Date(1_795_000_000_000).toISOString(),
        fields: { channel: 1, name: 'volc-deepseek', from: 100, to: 10 },
      },
    ],
    ['feishu', { msg_type: 'text', content: { text: `${title}\n${text}` } }],
    ['dingtalk', { msgtype: 'markdown', markdown: { title, text: `### ${title}\n\n${text}` } }],
    ['wecom', { msgtype: 'markdown', markdown: { content: `**${title}**\n${text}` } }],
    ['slack', { text: `*${title}*\n${text.replace('>', '&gt;')}` }], // Slack's escaping
  ])('%s', async (format, body) => {
    const n = notifier([aTarget(format)]);
    n.send(anEvent());
    await n.flush();
    expect(received).toEqual([{ url: `/hook/${HOOK_TOKEN}`, body }]);
    expect(n.sent).toBe(1);
  });

  it('slack: escapes &, < and >', async () => {
    const n = notifier([aTarget('slack')]);
    n.send(anEvent({ severity: 'critical', title: 'a <b> & c', text: 'x>y' }));
    await n.flush();
    expect(received[0].body).toEqual({ text: '*[critical] a &lt;b&gt; &amp; c*\nx&gt;y' });
  });
});

describe('signatures', () => {
  it('feishu: timestamp in seconds and sign = base64(HMAC-SHA256(key "<ts>\\n<secret>", ""))', async () => {
    const n = notifier([aTarget('feishu', { secret: SECRET })]);
    n.send(anEvent());
    await n.flush();
    const { timestamp, sign } = received[0].body as { timestamp: string; sign: string };
    expect(timestamp).toBe(String(Math.floor(NOW_MS / 1000)));
    expect(sign).toBe(createHmac('sha256', `${timestamp}\n${SECRET}`).update('').digest('base64'));
    expect(received[0].url).toBe(`/hook/${HOOK_TOKEN}`);
  });

  it('dingtalk: timestamp in ms and sign = base64(HMAC-SHA256(secret, "<ts>\\n<secret>")) in the query', async () => {
    const n = notifier([aTarget('dingtalk', { url: `${base}/robot/send?access_token=${HOOK_TOKEN}`, secret: SECRET })]);
    n.send(anEvent());
    await n.flush();
    const q = new URL(received[0].url, base).searchParams;
    expect(q.get('access_token')).toBe(HOOK_TOKEN);
    expect(q.get('timestamp')).toBe(String(NOW_MS));
    const expected = createHmac('sha256', SECRET).update(`${NOW_MS}\n${SECRET}`).digest('base64');
    expect(q.get('sign')).toBe(expected);
  });
});

describe('delivery', () => {
  it('retries a 500 after 1 s, then succeeds', async () => {
    replies = [{ status: 500, body: 'oops' }, { status: 200, body: '{"code":0,"msg":"success"}' }];
    const n = notifier([aTarget('feishu')]);
    n.send(anEvent());
    await n.flush();
    expect(received).toHaveLength(2);
    expect(sleeps).toEqual([1000]);
    expect([n.sent, n.failed]).toEqual([1, 0]);
    expect(logs().find((l) => l.msg === 'alert delivered')).toMatchObject({ target: 'webhook 1 (feishu)', attempts: 2 });
  });

  it('gives up after the retries with back-off 1, 2, 4 s on 429', async () => {
    replies = Array(4).fill({ status: 429 });
    const n = notifier([aTarget('slack')]);
    n.send(anEvent());
    await n.flush();
    expect(received).toHaveLength(4);
    expect(sleeps).toEqual([1000, 2000, 4000]);
    expect(n.failed).toBe(1);
  });

  it.each([
    ['dingtalk', '{"errcode":310000,"errmsg":"sign not match"}', 'errcode 310000: sign not match'],
    ['feishu', '{"code":19021,"msg":"sign match fail"}', 'code 19021: sign match fail'],
  ] as const)('%s: a 200 that reports failure is a failure, not retried', async (format, body, error) => {
    replies = [{ status: 200, body }];
    const n = notifier([aTarget(format)]);
    n.send(anEvent());
    await n.flush();
    expect(received).toHaveLength(1);
    expect([n.sent, n.failed]).toEqual([0, 1]);
    const warn = logs().find((l) => l.msg === 'alert delivery failed');
    expect(warn).toMatchObject({ target: `webhook 1 (${format})`, kind: 'channel-demoted', attempts: 1, error });
  });

  it('does not retry a 400', async () => {
    replies = [{ status: 400, body: 'invalid_payload' }];
    const n = notifier([aTarget('slack')]);
    n.send(anEvent());
    await n.flush();
    expect(received).toHaveLength(1);
    expect(logs().find((l) => l.msg === 'alert delivery failed')).toMatchObject({ error: 'HTTP 400: invalid_payload' });
  });

  it('times out a receiver that never answers, and retries', async () => {
    replies = ['hang', 'hang'];
    const n = notifier([aTarget('generic')], { timeoutMs: 100, retries: 1 });
    n.send(anEvent());
    await n.flush();
    expect(received).toHaveLength(2);
    expect(logs().find((l) => l.msg === 'alert delivery failed')).toMatchObject({
      attempts: 2,
      error: 'timed out after 100 ms',
    });
  });

  it('delivers to every target in order, one at a time', async () => {
    const n = notifier([aTarget('slack'), aTarget('wecom', { url: `${base}/second`, name: 'webhook 2 (wecom)' })]);
    n.send(anEvent({ title: 'one' }));
    n.send(anEvent({ title: 'two' }));
    await n.flush();
    expect(received.map((r) => `${r.url.slice(0, 7)} ${JSON.stringify(r.body).includes('one') ? 1 : 2}`)).toEqual([
      '/hook/h 1',
      '/second 1',
      '/hook/h 2',
      '/second 2',
    ]);
    expect(n.sent).toBe(4);
  });
});

describe('the queue', () => {
  it('send() returns before anything is sent and never throws, even when the receiver is gone', async () => {
    const n = notifier([aTarget('generic', { url: 'http://127.0.0.1:1/nothing-here' })], { retries: 1 });
    expect(() => n.send(anEvent())).not.toThrow();
    expect(n.sent + n.failed).toBe(0);
    await n.flush();
    expect(n.failed).toBe(1);
    expect(logs().find((l) => l.msg === 'alert delivery failed')).toMatchObject({ error: 'ECONNREFUSED' });
  });

  it('drops the oldest events beyond maxQueue, with a warning', async () => {
    const n = notifier([aTarget('generic')], { maxQueue: 2 });
    for (const title of ['e1', 'e2', 'e3', 'e4']) n.send(anEvent({ title }));
    await n.flush();
    expect(received.map((r) => r.body.title)).toEqual(['e3', 'e4']);
    expect(logs().filter((l) => l.msg === 'alert queue full, oldest dropped')).toHaveLength(2);
  });

  it('flush() stops waiting at its cap', async () => {
    replies = ['hang'];
    const n = notifier([aTarget('generic')], { timeoutMs: 400, retries: 0 });
    n.send(anEvent());
    const t0 = Date.now();
    await n.flush(50);
    expect(Date.now() - t0).toBeLessThan(300);
    expect(n.failed).toBe(0);
    await n.flush();
    expect(n.failed).toBe(1);
  });

  it('with no targets, send() is a no-op', async () => {
    const n = notifier([]);
    n.send(anEvent());
    await n.flush();
    expect([received.length, n.sent, n.failed, logLines.length]).toEqual([0, 0, 0, 0]);
  });

  it('never logs a URL or a secret', async () => {
    replies = [{ status: 500, body: '' }, { status: 200, body: '{"errcode":310000,"errmsg":"sign not match"}' }];
    const targets = [
      aTarget('dingtalk', { url: `${base}/robot/send?access_token=${HOOK_TOKEN}`, secret: SECRET }),
      aTarget('feishu', { secret: SECRET, name: 'webhook 2 (feishu)' }),
    ];
    const n = notifier(targets);
    n.send(anEvent());
    await n.flush();
    expect(logLines.length).toBeGreaterThanOrEqual(2);
    const all = logLines.join('\n');
    for (const leak of [HOOK_TOKEN, SECRET, base, '/robot/send', '/hook/']) expect(all).not.toContain(leak);
  });
});

describe('webhookTargets', () => {
  it('reads the first target and numbered ones, with gaps, in order', () => {
    const env = {
      ALERT_WEBHOOK_URL: 'https://open.feishu.cn/open-apis/bot/v2/hook/abc',
      ALERT_WEBHOOK_FORMAT: 'feishu',
      ALERT_WEBHOOK_SECRET: 's1',
      ALERT_WEBHOOK_URL_5: 'https://hooks.slack.com/services/T/B/x',
      ALERT_WEBHOOK_FORMAT_5: 'Slack',
      ALERT_WEBHOOK_URL_2: 'http://127.0.0.1:9000/alerts',
      ALERT_WEBHOOK_SECRET_3: '',
    };
    expect(webhookTargets(env)).toEqual({
      targets: [
        { url: env.ALERT_WEBHOOK_URL, format: 'feishu', secret: 's1', name: 'webhook 1 (feishu)' },
        { url: env.ALERT_WEBHOOK_URL_2, format: 'generic', name: 'webhook 2 (generic)' },
        { url: env.ALERT_WEBHOOK_URL_5, format: 'slack', name: 'webhook 5 (slack)' },
      ],
      problems: [],
    });
  });

  it('no variables, no targets', () => {
    expect(webhookTargets({ PATH: '/usr/bin' })).toEqual({ targets: [], problems: [] });
  });

  it('names every problem by its variable and never echoes a URL or a secret', () => {
    const env = {
      ALERT_WEBHOOK_URL: 'ftp://example.com/hook-secret-path',
      ALERT_WEBHOOK_URL_2: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k2',
      ALERT_WEBHOOK_FORMAT_2: 'wecom',
      ALERT_WEBHOOK_SECRET_2: 'top-secret',
      ALERT_WEBHOOK_FORMAT_3: 'dingtalk',
      ALERT_WEBHOOK_URL_4: 'https://example.com/x',
      ALERT_WEBHOOK_FORMAT_4: 'teams',
      ALERT_WEBHOOK_URL_1: 'https://example.com/y',
    };
    const { targets, problems } = webhookTargets(env);
    expect(targets).toEqual([]);
    expect(problems).toEqual([
      'ALERT_WEBHOOK_URL_1: numbered targets start at 2; use ALERT_WEBHOOK_URL for the first one',
      'ALERT_WEBHOOK_URL: not an http(s) URL',
      'ALERT_WEBHOOK_SECRET_2: format wecom does not sign requests (only feishu and dingtalk do)',
      'ALERT_WEBHOOK_FORMAT_3: set without ALERT_WEBHOOK_URL_3',
      'ALERT_WEBHOOK_FORMAT_4: unknown format "teams" (expected one of generic, feishu, dingtalk, wecom, slack)',
    ]);
    expect(problems.join('\n')).not.toMatch(/hook-secret-path|key=k2|top-secret|example\.com/);
  });

  it('redactUrl keeps the scheme and host only', () => {
    expect(redactUrl('https://oapi.dingtalk.com/robot/send?access_token=abc')).toBe('https://oapi.dingtalk.com');
    expect(redactUrl('not a url')).toBe('[invalid url]');
  });
});
