import { describe, expect, it } from '@jest/globals';
import { num } from '../../src/platform/format.js';

describe('num', () => {
  it.each([0, 7, 999, 1000, 12_345, 1_900_000, -1_500_000, 123_456_789_012, 0.5, 1234.5678, -0.25, Number.MAX_SAFE_INTEGER, 1e21])(
    'writes %p as toLocaleString("en-US") does',
    (n) => expect(num(n)).toBe(n.toLocaleString('en-US')),
  );
});
