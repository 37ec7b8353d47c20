import { describe, expect, it } from '@jest/globals';
import { Ajv } from 'ajv';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/parse-config.js';
import { CHANNELS_SCHEMA, PRIORITIES_SCHEMA, schemaFiles } from '../../src/config/schema.js';
import { ROOT } from '../helpers/cli.js';

const read = (name: string) => readFileSync(join(ROOT, name), 'utf8');
// Strict, except that a `then` may require a key its parent defines (the total window's since).
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
const channelsOk = ajv.compile(JSON.parse(read('schemas/channels.schema.json')));
const prioritiesOk = ajv.compile(JSON.parse(read('schemas/priorities.schema.json')));
const PRIORITIES = read('priorities.yaml');

/** What the loader says of a channels.yaml next to the shipped priorities.yaml: ok, or its first error's key. */
function loader(channels: string): string {
  const r = parseConfig({ channels: { path: 'channels.yaml', text: channels }, priorities: { path: 'priorities.yaml', text: PRIORITIES } });
  const e = r.issues.find((i) => i.severity === 'error');
  return e ? `error at ${e.key}` : 'ok';
}
const schema = (channels: string) => (channelsOk(parse(channels)) ? 'ok' : 'invalid');
const budget = (lines: string) => `channels:\n  - channel: volc-deepseek\n${lines
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}\n`;

describe('JSON Schema for channels.yaml and priorities.yaml', () => {
  it('the files in schemas/ are the ones schema.ts generates (npm run schema)', () => {
    for (const [name, text] of Object.entries(schemaFiles())) expect(read(`schemas/${name}`)).toBe(text);
  });

  it('the shipped examples name the schema on their first line and validate against it', () => {
    for (const [file, ok] of [['channels.yaml', channelsOk], ['priorities.yaml', prioritiesOk]] as const) {
      const text = read(file);
      const ref = /^# yaml-language-server: \$schema=\.\/(schemas\/\w+\.schema\.json)\n/.exec(text);
      expect(ref?.[1]).toBe(`schemas/${file.replace('.yaml', '')}.schema.json`);
      expect(ok(parse(text))).toBe(true);
      expect(ok.errors ?? null).toBeNull();
    }
  });

  // The editor and the loader agree: what one accepts, the other does too.
  it.each([
    ['free_tokens as a number', budget('free_tokens: 1900000'), 'ok'],
    ['free_tokens "1.9M"', budget('free_tokens: "1.9M"'), 'ok'],
    ['free_tokens 500k unquoted', budget('free_tokens: 500k'), 'ok'],
    ['free_tokens with separators', budget('free_tokens: 1_900_000'), 'ok'],
    ['a total window with since', budget('free_tokens: 5M\nwindow: total\nsince: "2026-11-01"'), 'ok'],
    ['reset_at "2:20"', budget('free_tokens: 1M\nreset_at: "2:20"'), 'ok'],
    ['a misspelled key', budget('free_tokens: 1M\nwindw: daily'), 'error at channels[0].windw'],
    ['an unknown window', budget('free_tokens: 1M\nwindow: hourly'), 'error at channels[0].window'],
    ['warn_at above 1', budget('free_tokens: 1M\nwarn_at: 1.5'), 'error at channels[0].warn_at'],
    ['reset_at 25:00', budget('free_tokens: 1M\nreset_at: "25:00"'), 'error at channels[0].reset_at'],
    ['free_tokens missing', budget('model: m'), 'error at channels[0].free_tokens'],
    ['free_tokens zero', budget('free_tokens: 0'), 'error at channels[0].free_tokens'],
    ['a total window without since', budget('free_tokens: 5M\nwindow: total'), 'error at channels[0].since'],
  ])('%s', (_, text, verdict) => {
    expect(loader(text)).toBe(verdict);
    expect(schema(text)).toBe(verdict === 'ok' ? 'ok' : 'invalid');
  });

  it('priorities.yaml: a misspelled key or a non-integer priority is refused by both', () => {
    for (const bad of [PRIORITIES.replace('demoted:', 'demote:'), PRIORITIES.replace('volc-kimi: 100', 'volc-kimi: high')]) {
      expect(prioritiesOk(parse(bad))).toBe(false);
      const r = parseConfig({ channels: { path: 'c', text: read('channels.yaml') }, priorities: { path: 'p', text: bad } });
      expect(r.issues.some((i) => i.severity === 'error')).toBe(true);
    }
  });

  it('describes every key, for the editor\'s hover text', () => {
    const budgetKeys = Object.values(CHANNELS_SCHEMA.properties.channels.anyOf[0].items.properties);
    for (const p of [...budgetKeys, ...Object.values(CHANNELS_SCHEMA.properties), ...Object.values(PRIORITIES_SCHEMA.properties)])
      expect(typeof p.description).toBe('string');
  });
});

describe('the package', () => {
  it('is named like its command, and ships the MIT licence it declares', () => {
    const pkg = JSON.parse(read('package.json'));
    expect(Object.keys(pkg.bin)).toEqual([pkg.name]);
    expect(pkg.license).toBe('MIT');
    expect(read('LICENSE')).toMatch(/^MIT License\n/);
    expect(pkg.files).toEqual(expect.arrayContaining(['schemas', 'dashboards']));
  });
});
