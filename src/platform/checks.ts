import { z } from './zod.js';

// Plain-loop checks for the state file's large parts (thousands of buckets, samples and keys with many budgets):
// zod per element cost ~0.1 s a cycle there. Each still reports the first bad element's path, as zod would.

export type Check = (v: unknown) => boolean;
export const isInt: Check = (v) => Number.isSafeInteger(v);
export const isNum: Check = (v) => typeof v === 'number' && Number.isFinite(v);
export const isStr: Check = (v) => typeof v === 'string';
export const nonNeg = (c: Check): Check => (v) => c(v) && (v as number) >= 0;

export type Fields = Array<[string | number, Check, string]>;
export type Problem = { path: Array<string | number>; message: string };

/** The first element of `rows` (an array of records) whose field fails its check, if any. */
export function badRow(rows: unknown, fields: Fields): Problem | undefined {
  if (!Array.isArray(rows)) return { path: [], message: 'expected an array' };
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as Record<string | number, unknown> | null;
    if (typeof row !== 'object' || row === null) return { path: [i], message: 'expected a record' };
    // Indexed, not destructured: this runs once per field of thousands of rows, mostly before the JIT warms up.
    for (let f = 0; f < fields.length; f++) {
      const field = fields[f];
      if (!field[1](row[field[0]])) return { path: [i, field[0]], message: `expected ${field[2]}, got ${JSON.stringify(row[field[0]])}` };
    }
  }
  return undefined;
}

/** An array of records whose fields pass their checks; the issue names the first bad element and field. */
export function rowsOf<T>(fields: Fields): z.ZodType<T[]> {
  return z.any().superRefine((rows, ctx) => {
    const bad = badRow(rows, fields);
    if (bad) ctx.addIssue({ code: 'custom', ...bad });
  }) as unknown as z.ZodType<T[]>;
}

/** A record whose values all pass `ok`, checked with a plain loop. */
export function recordOf<T>(ok: Check, what: string): z.ZodType<Record<string, T>> {
  return z.any().superRefine((rec, ctx) => {
    if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return void ctx.addIssue({ code: 'custom', message: 'expected an object' });
    for (const key in rec) {
      const v = (rec as Record<string, unknown>)[key];
      if (!ok(v)) return void ctx.addIssue({ code: 'custom', path: [key], message: `expected ${what}, got ${JSON.stringify(v)}` });
    }
  }) as unknown as z.ZodType<Record<string, T>>;
}
