import { describe, expect, it } from '@jest/globals';
import { authorized, hostOf, isLoopback, listenAccess, refusal } from '../../src/metrics/access.js';
import { redactUrl } from '../../src/platform/env.js';
import { budgetKey, parseTexts } from '../../src/config/parse-config.js';
import { interpret } from '../../src/oneapi/response.js';

describe('redactUrl', () => {
  it.each([
    ['http://user:pass@host:3000/x', 'http://***@host:3000/x'],
    ['http://user@host', 'http://***@host'],
    ['https://u:p@ss@host/a@b', 'https://***@host/a@b'],
    ['http://127.0.0.1:3000', 'http://127.0.0.1:3000'],
    ['http://host/path?mail=a@b', 'http://host/path?mail=a@b'],
    ['ftp://u:secret@host', 'ftp://***@host'],
    ['u:secret@host:1', '***@host:1'],
    ['', ''],
  ])('%s -> %s', (url, want) => expect(redactUrl(url)).toBe(want));
});

describe('listen access', () => {
  it.each([
    ['localhost', true], ['LOCALHOST.', true], ['app.localhost', true], ['127.0.0.1', true], ['127.8.9.10', true],
    ['::1', true], ['[::1]', true], ['0:0:0:0:0:0:0:1', true], ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false], ['::', false], ['192.168.1.5', false], ['evil.example', false], ['localhost.evil.example', false], ['', false], ['128.0.0.1', false],
  ])('isLoopback(%s) = %s', (host, want) => expect(isLoopback(host)).toBe(want));

  it.each([
    ['127.0.0.1:9464', '127.0.0.1'], ['[::1]:9464', '::1'], ['localhost', 'localhost'], ['evil.example:80', 'evil.example'], [undefined, ''],
  ])('hostOf(%s) = %s', (h, want) => expect(hostOf(h)).toBe(want));

  it.each([
    ['loopback, no token', '127.0.0.1', undefined, false, { loopbackHostsOnly: true, token: undefined }],
    ['loopback, a token: required there too', '127.0.0.1', 's3cret-token', false, { loopbackHostsOnly: true, token: 's3cret-token' }],
    ['0.0.0.0 with a token', '0.0.0.0', 's3cret-token', false, { loopbackHostsOnly: false, token: 's3cret-token', warning: expect.stringMatching(/beyond loopback/) }],
    ['a LAN address, opted out', '192.168.1.5', undefined, true, { loopbackHostsOnly: false, warning: expect.stringMatching(/without a credential/) }],
    ['a blank token counts as none', '127.0.0.1', '  ', false, { loopbackHostsOnly: true, token: undefined }],
  ])('%s', (_n, host, token, open, want) => expect(listenAccess(host, token, open)).toEqual(want));

  it('a non-loopback address without a token or the opt-out is refused, saying what to do', () => {
    expect(() => listenAccess('0.0.0.0', undefined, false)).toThrow(/not a loopback address.*QP_LISTEN_TOKEN.*--listen-without-token/);
    expect(() => listenAccess('::', '', false)).toThrow(/not a loopback address/);
  });

  const basic = (user: string, pw: string) => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;
  it.each([
    [`Bearer tok-123456`, true], [`bearer tok-123456`, true], [basic('prometheus', 'tok-123456'), true], [basic('', 'tok-123456'), true],
    [`Bearer tok-12345`, false], [`Bearer tok-1234567`, false], [basic('tok-123456', 'x'), false], ['tok-123456', false], [undefined, false], ['Basic !!!', false],
  ])('authorized(%s) = %s', (h, want) => expect(authorized(h, 'tok-123456')).toBe(want));

  it.each([
    ['loopback Host, no token', { loopbackHostsOnly: true }, '/metrics', { host: 'localhost:9464' }, undefined],
    ['foreign Host on loopback', { loopbackHostsOnly: true }, '/healthz', { host: 'evil.example' }, 403],
    ['no Host at all', { loopbackHostsOnly: true }, '/metrics', {}, 403],
    ['token missing', { loopbackHostsOnly: false, token: 't0ken-abc' }, '/metrics', { host: 'x' }, 401],
    ['token missing on /healthz', { loopbackHostsOnly: false, token: 't0ken-abc' }, '/healthz', { host: 'x' }, undefined],
    ['token given', { loopbackHostsOnly: false, token: 't0ken-abc' }, '/api/status', { host: 'x', authorization: 'Bearer t0ken-abc' }, undefined],
  ])('refusal: %s', (_n, access, path, headers, status) => expect(refusal(access, path, headers)?.status).toBe(status));
});

describe('budget keys', () => {
  it.each([
    [7, 'M', 'daily', '#7/M'],
    ['7', 'M', 'daily', '7/M'],
    ['volc-deepseek', undefined, 'daily', 'volc-deepseek'],
    ['volc-deepseek', 'M', 'weekly', 'volc-deepseek/M:weekly'],
    [3, undefined, 'total', '#3:total'],
  ] as const)('%s %s %s -> %s', (channel, model, window, want) => expect(budgetKey(channel, model, window)).toBe(want));

  it('two budgets whose keys are the same text (a channel named "#7" beside id 7) are an error at the later one', () => {
    const c = 'channels:\n  - {channel: 7, model: M, free_tokens: 5}\n  - {channel: "#7", model: M, free_tokens: 5}\n';
    const p = 'defaults:\n  7: 100\n  "#7": 100\n  paid: 50\ndemoted: 10\n';
    const out = parseTexts('c.yaml', c, 'p.yaml', p);
    expect(out.config).toBeUndefined();
    expect(out.issues.filter((i) => i.severity === 'error').map((i) => `${i.line} ${i.key}: ${i.message}`)).toEqual([
      '3 channels[1].channel: this budget\'s key "#7/M" is also the key of the budget on line 2; they would share their state: give the channel by id or rename it in OneAPI',
    ]);
  });
});

describe('YAML aliases', () => {
  const file = (n: number) => `channels:\n  - &b {channel: a, free_tokens: 5}\n${'  - *b\n'.repeat(n)}`;
  it.each([
    [100, []],
    [101, ['103:5 more than 100 aliases (*name) in one file; quota-pilot expands at most 100: write the values out']],
  ])('%s aliases', (n, want) => {
    const out = parseTexts('c.yaml', file(n), 'p.yaml', 'defaults: {a: 1}\ndemoted: 0\n');
    expect(out.issues.filter((i) => i.key === '(yaml)').map((i) => `${i.line}:${i.col} ${i.message}`)).toEqual(want);
  });
});

describe('server text', () => {
  const token = 'tok-0123456789abcdef0123456789ab';
  const scrub = (s: string) => s.split(token).join('[redacted]');
  it.each([280, 295, 299, 300, 310])('a token at character %s never survives in part', (at) => {
    const message = `${'x'.repeat(at)}${token} tail`;
    const got = interpret({ status: 200, body: JSON.stringify({ success: false, message, data: null }) }, 'GET /api/x', scrub);
    expect(got.ok).toBe(false);
    if (!got.ok) expect(got.error.message).not.toContain(token.slice(0, 4));
  });
});
