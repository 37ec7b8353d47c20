import { describe, expect, it } from '@jest/globals';
import { LogIndex, type LogFilter } from '../../src/sim/log-index.js';
import { comparator, CREATED_ID_DESC, CREATED_REQUEST_DESC, ID_DESC, type OrderKey } from '../../src/sim/log-order.js';
import { mulberry32 } from '../../src/sim/router.js';
import type { SimLog } from '../../src/sim/types.js';

const NO_FILTER: LogFilter = { type: 0, start: 0, end: 0, channel: 0, modelName: '', modelLike: false, username: '', tokenName: '' };

/** The plain reading of a query: filter every row, sort them all, slice. */
function reference(logs: SimLog[], f: LogFilter, order: readonly OrderKey[], offset: number, size: number) {
  const rows = logs
    .filter(
      (l) =>
        (f.type === 0 || (l.type ?? 2) === f.type) &&
        (f.start === 0 || l.created_at >= f.start) &&
        (f.end === 0 || l.created_at <= f.end) &&
        (f.channel === 0 || l.channel === f.channel) &&
        (f.modelName === '' || (f.modelLike ? new RegExp(`^${f.modelName.replace(/%/g, '.*')}$`, 'i').test(l.model_name) : l.model_name === f.modelName)),
    )
    .sort(comparator(order));
  return { ids: rows.slice(offset, offset + size).map((l) => l.id), total: rows.length };
}

const ORDERS: Record<string, readonly OrderKey[]> = {
  'id desc': ID_DESC,
  'created_at desc, id desc': CREATED_ID_DESC,
  'created_at desc, request_id desc': CREATED_REQUEST_DESC,
  'created_at asc': [{ field: 'created_at', desc: false }],
  'channel desc': [{ field: 'channel', desc: true }],
};

describe('LogIndex', () => {
  it.each([
    ['ids following time', 0],
    ['some rows inserted late with an old timestamp', 0.1],
  ])('pages exactly like filter + sort + slice, with logs added between reads (%s)', (_name, lateShare) => {
    const random = mulberry32(42);
    const logs: SimLog[] = [];
    const index = new LogIndex(logs);
    let clock = 1000;
    let id = 1;
    const add = () => {
      clock += Math.floor(random() * 3);
      // Late rows only once views exist, so that the index must notice that a view stopped following time.
      const late = id > 300 && random() < lateShare;
      const log: SimLog = {
        id: id++,
        created_at: late ? clock - 1 - Math.floor(random() * 30) : clock,
        channel: 1 + Math.floor(random() * 3),
        model_name: random() < 0.5 ? 'gpt-4o' : 'DeepSeek-V3',
        type: random() < 0.9 ? 2 : 5,
        prompt_tokens: 1,
        completion_tokens: 1,
      };
      logs.push(log);
      index.added(log);
    };
    for (let i = 0; i < 300; i++) add();
    for (let round = 0; round < 400; round++) {
      const order = Object.values(ORDERS)[round % 5];
      const start = random() < 0.3 ? 0 : 1000 + Math.floor(random() * (clock - 1000));
      const end = random() < 0.3 ? 0 : start + Math.floor(random() * 200);
      const filter: LogFilter = {
        ...NO_FILTER,
        type: random() < 0.5 ? 2 : 0,
        channel: random() < 0.5 ? 0 : 1 + Math.floor(random() * 3),
        modelName: random() < 0.7 ? '' : random() < 0.5 ? 'gpt-4o' : 'deep%',
        modelLike: round % 2 === 0,
        start,
        end,
      };
      if (filter.modelName === 'deep%' && !filter.modelLike) filter.modelName = 'DeepSeek-V3';
      const offset = Math.floor(random() * 40);
      const size = 1 + Math.floor(random() * 20);
      const got = index.page(filter, order, offset, size);
      expect({ ids: got.rows.map((l) => l.id), total: got.total }).toEqual(reference(logs, filter, order, offset, size));
      for (let k = Math.floor(random() * 4); k > 0; k--) add();
    }
  });

  it('scan visits rows in order and stops when told', () => {
    const logs: SimLog[] = [];
    const index = new LogIndex(logs);
    for (let i = 1; i <= 50; i++) {
      const log = { id: i, created_at: 100 + i, channel: 1, model_name: 'm', prompt_tokens: 1, completion_tokens: 1, type: i % 2 === 0 ? 2 : 3 };
      logs.push(log);
      index.added(log);
    }
    const seen: number[] = [];
    index.scan({ ...NO_FILTER, type: 2, end: 140 }, ID_DESC, (log) => {
      seen.push(log.id as number);
      return seen.length < 3;
    });
    expect(seen).toEqual([40, 38, 36]);
  });
});
