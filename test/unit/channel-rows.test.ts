import { describe, expect, it } from '@jest/globals';
import { channelRow, newApiPage, oneHubChannelRow, oneHubPage, plainPage, tagList } from '../../src/oneapi/schemas.js';

const good = { id: 7, name: 'volc-deepseek', priority: 100, status: 1, models: 'a,b', key: 'sk-secret', weight: 3, tag: 'volc' };
const kept = { id: 7, name: 'volc-deepseek', priority: 100, status: 1, models: 'a,b', tag: null };

describe('channel rows, checked with plain code', () => {
  it('keeps only the fields quota-pilot reads: never the secret key', () => {
    expect(channelRow(good, 'data')).toEqual(kept);
    expect(JSON.stringify(plainPage(channelRow)([good]))).not.toContain('sk-secret');
    expect(oneHubChannelRow(good, 'data')).toEqual({ ...kept, tag: 'volc' });
  });

  it('reads a null or missing priority as 0, and null or missing models and tag as null', () => {
    expect(channelRow({ ...good, priority: null, models: null }, 'data')).toEqual({ ...kept, priority: 0, models: null });
    const { priority: _p, models: _m, tag: _t, ...bare } = good;
    expect(oneHubChannelRow(bare, 'data')).toEqual({ ...kept, priority: 0, models: null, tag: null });
  });

  it.each([
    ['a row that is not an object', [good, 'x'], 'data.1: expected a channel, got "x"'],
    ['a missing id', [{ ...good, id: undefined }], 'data.0.id: expected an integer, got nothing'],
    ['a fractional id', [{ ...good, id: 7.5 }], 'data.0.id: expected an integer, got 7.5'],
    ['a priority as a string', [good, good, { ...good, priority: 'high' }], 'data.2.priority: expected an integer or null, got "high"'],
    ['a name as a number', [{ ...good, name: 7 }], 'data.0.name: expected a string, got 7'],
    ['a null status', [{ ...good, status: null }], 'data.0.status: expected an integer, got null'],
    ['models as a list', [{ ...good, models: ['a'] }], 'data.0.models: expected a string or null, got ["a"]'],
  ])('%s: an error naming the place', (_name, data, message) => {
    expect(() => plainPage(channelRow)(data)).toThrow(message);
  });

  it('checks the tag only where the flavor has one (one-hub)', () => {
    expect(channelRow({ ...good, tag: 5 }, 'data').tag).toBeNull();
    expect(() => oneHubChannelRow({ ...good, tag: 5 }, 'data.data.0')).toThrow('data.data.0.tag: expected a string or null, got 5');
  });
});

describe('channel pages, per flavor', () => {
  it('a null list (Go nil slice) is no rows', () => {
    expect(plainPage(channelRow)(null)).toEqual([]);
    expect(newApiPage(channelRow)({ items: null, total: 0 })).toEqual({ items: [], total: 0, page: undefined, page_size: undefined });
    expect(oneHubPage(channelRow)({ data: null, total_count: 0 })).toEqual({ data: [], total_count: 0 });
  });

  it('new-api: a plain array (classic) or {items, total, page, page_size} (newer)', () => {
    expect(newApiPage(channelRow)([good])).toEqual([kept]);
    expect(newApiPage(channelRow)({ items: [good], total: 1, page: 1, page_size: 100 })).toEqual({ items: [kept], total: 1, page: 1, page_size: 100 });
    expect(() => newApiPage(channelRow)({ items: [good] })).toThrow('data.total: expected an integer, got nothing');
    expect(() => newApiPage(channelRow)({ items: [good], total: 1, page: '2' })).toThrow('data.page: expected an integer, got "2"');
    expect(() => newApiPage(channelRow)({ items: [{ ...good, status: 'on' }], total: 1 })).toThrow('data.items.0.status');
    expect(() => newApiPage(channelRow)('rows')).toThrow('data: expected an array or {items, total}, got "rows"');
  });

  it('one-hub: {data, total_count}; its tag list as an array, {data} or {items}', () => {
    expect(oneHubPage(oneHubChannelRow)({ data: [good], total_count: 1, page: 1, size: 100 })).toEqual({ data: [{ ...kept, tag: 'volc' }], total_count: 1 });
    expect(() => oneHubPage(channelRow)([good])).toThrow('data: expected {data, total_count}');
    expect(() => oneHubPage(channelRow)({ data: [good] })).toThrow('data.total_count: expected an integer, got nothing');
    for (const shape of [[good], { data: [good] }, { items: [good] }]) expect(tagList(channelRow)(shape)).toEqual([kept]);
    expect(() => tagList(channelRow)({ rows: [good] })).toThrow('data: expected an array, {data} or {items}');
  });
});
