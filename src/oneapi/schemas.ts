import { z } from '../platform/zod.js';

// z.object strips unknown keys, so the secret `key` (sent in clear by one-hub's GET /api/channel/:id and tag list,
// and by one-api's PUT answer) never survives parsing.

const int = z.number().int();

/** A channel row as every flavor sends it; a null priority (old rows) reads as 0. */
export const channelRow = z.object({
  id: int,
  name: z.string(),
  priority: int.nullish().transform((p) => p ?? 0),
  status: int,
  models: z.string().nullish(),
});

/** one-hub's channel row: also the tag its list collapses on. */
export const oneHubChannelRow = channelRow.extend({ tag: z.string().nullish() });

// Go serialises an empty slice that was never allocated as null; it means "no rows" here.
const rows = <T extends z.ZodType>(row: T) => z.array(row).nullable().transform((r) => r ?? []);

/** A plain array of rows (one-api lists, one-api searches, classic new-api pages). */
export const plainPage = <T extends z.ZodType>(row: T) => rows(row);

/** A new-api page: a plain array (classic, p 0-based) or {items, total, page?, page_size?} (newer, p 1-based). */
export const newApiPage = <T extends z.ZodType>(row: T) =>
  z.union([
    rows(row),
    z.object({
      items: rows(row),
      total: int,
      page: int.optional(),
      page_size: int.optional(),
    }),
  ]);

/** A one-hub page: {data, page, size, total_count}. */
export const oneHubPage = <T extends z.ZodType>(row: T) =>
  z.object({ data: rows(row), total_count: int });

/** one-hub's tag list; its shape is unverified, so a plain array, {data} and {items} are all accepted. */
export const tagList = <T extends z.ZodType>(row: T) =>
  z.union([
    rows(row),
    z.object({ data: rows(row) }).transform((o) => o.data),
    z.object({ items: rows(row) }).transform((o) => o.items),
  ]);

/** Answers whose data is not used (the PUT echoes the channel, key included: it is never read). */
export const ignored = z.unknown();

/** Model names the channel serves (OneAPI's comma-separated `models`), trimmed, empty entries dropped. */
export function splitModels(s: string | null | undefined): string[] {
  return (s ?? '').split(',').map((m) => m.trim()).filter(Boolean);
}
