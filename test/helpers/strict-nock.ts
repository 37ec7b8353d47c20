import { afterAll, afterEach, beforeAll, beforeEach, expect } from '@jest/globals';
import nock from 'nock';

/**
 * Makes nock strict for the calling test file: no real network, and each test fails on any request no mock
 * matched and on any mock left unused. Returns the list of unmatched requests (tests that expect some may clear it).
 */
export function useStrictNock(): { unmatched: string[] } {
  const state = { unmatched: [] as string[] };
  const onNoMatch = (req: { method?: string; path?: string }, options?: { method?: string; path?: string }): void => {
    const r = options ?? req;
    state.unmatched.push(`${r.method ?? '?'} ${r.path ?? '?'}`);
  };
  beforeAll(() => {
    if (!nock.isActive()) nock.activate();
    nock.disableNetConnect();
    nock.emitter.on('no match', onNoMatch);
  });
  afterAll(() => {
    nock.emitter.removeListener('no match', onNoMatch);
    nock.enableNetConnect();
    // nock patches node's http module, which the next test file in this worker shares: undo it, so that file
    // talks to real servers as it expects (a pass-through opens a new connection for every request).
    nock.restore();
  });
  beforeEach(() => {
    state.unmatched.length = 0;
  });
  afterEach(() => {
    const pending = nock.pendingMocks();
    const done = nock.isDone();
    nock.cleanAll();
    expect(state.unmatched).toEqual([]);
    expect(pending).toEqual([]);
    expect(done).toBe(true);
  });
  return state;
}
