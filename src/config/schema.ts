/**
 * The shape of channels.yaml and priorities.yaml as JSON Schema (draft-07), for editors (yaml-language-server) and
 * for the loader: parse-config.ts takes its allowed keys, required keys, defaults, window kinds and the time pattern from
 * here, so the two cannot drift. What a schema cannot say (a real IANA zone, a real date, cross-field rules such as
 * a budget's channel needing a default priority) stays in the loader, which gives the line-numbered messages.
 * `npm run schema` writes these to schemas/*.schema.json; a test checks the files are current.
 */

/** "HH:MM", 00:00 to 23:59; a single-digit hour is accepted ("2:20"). */
export const TIME_PATTERN = '^([01]?[0-9]|2[0-3]):([0-5][0-9])$';
export const WINDOW_KINDS = ['daily', 'weekly', 'monthly', 'total'] as const;

const time = (description: string) => ({ type: 'string', pattern: TIME_PATTERN, description }) as const;
const channelRef = {
  description: 'The OneAPI channel: its name (a string), or its numeric id (unquoted: "7" in quotes is a channel named 7).',
  anyOf: [
    { type: 'string', minLength: 1, pattern: '\\S' },
    { type: 'integer', minimum: 1 },
  ],
} as const;
const fraction = <D extends number>(def: D, what: string) => ({ type: 'number', exclusiveMinimum: 0, maximum: 1, default: def, description: what }) as const;

const budget = {
  type: 'object',
  description: 'One budget: how many tokens a channel may use for free in a window.',
  additionalProperties: false,
  required: ['channel', 'free_tokens'],
  properties: {
    channel: channelRef,
    model: { type: 'string', minLength: 1, description: 'Count only the logs of this model (the name OneAPI logs); all models when absent.' },
    free_tokens: {
      description: 'Prompt + completion tokens per window: 1900000, 1_900_000, "1.9M" or "500k" (k = thousand, M = million).',
      anyOf: [
        { type: 'integer', minimum: 1 },
        { type: 'string', pattern: '^\\s*([0-9][0-9_,]*(\\.[0-9_,]*)?|\\.[0-9]+)\\s*[kKmM]?\\s*$' },
      ],
    },
    window: { enum: [...WINDOW_KINDS], default: 'daily', description: 'When the budget renews; total: a one-off grant counted from `since`.' },
    reset_at: time('Local time the window renews; default: reset.at in priorities.yaml. Quote it: YAML 1.1 reads 02:20 as a number.'),
    since: { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description: 'YYYY-MM-DD: the day a window: total starts counting.' },
    warn_at: fraction(0.8, 'Share of the budget at which to warn.'),
    demote_at: fraction(0.95, 'Share of the budget at which to demote the channel.'),
    reenable_at_renewal: {
      type: 'boolean',
      default: false,
      description: 'Enable the channel again when this window renews if OneAPI auto-disabled it (status 3) in an earlier window; never a channel disabled by hand.',
    },
  },
  // A total window has no renewal: it needs its start.
  if: { required: ['window'], properties: { window: { const: 'total' } } },
  then: { required: ['since'] },
} as const;

/** channels.yaml: the free budgets. */
export const CHANNELS_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://quota-pilot.invalid/schemas/channels.schema.json',
  title: 'quota-pilot channels.yaml',
  type: 'object',
  additionalProperties: false,
  required: ['channels'],
  properties: {
    timezone: { type: 'string', default: 'Asia/Shanghai', description: 'IANA time zone in which windows start and end.' },
    usage: {
      type: 'object',
      additionalProperties: false,
      description: 'Where usage is read from.',
      properties: {
        source: {
          enum: ['api', 'database'],
          default: 'api',
          description: "api: OneAPI's admin API; database: OneAPI's logs table, read-only, through ONEAPI_DB_URL.",
        },
      },
    },
    channels: {
      description: 'The budgets (write channels: [] for none).',
      anyOf: [{ type: 'array', items: budget }, { type: 'null' }],
    },
  },
} as const;

/** priorities.yaml: default priorities, the demoted priority and the nightly reset. */
export const PRIORITIES_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://quota-pilot.invalid/schemas/priorities.schema.json',
  title: 'quota-pilot priorities.yaml',
  type: 'object',
  additionalProperties: false,
  required: ['defaults', 'demoted'],
  properties: {
    reset: {
      type: 'object',
      additionalProperties: false,
      description: 'The nightly reset, when default priorities come back.',
      properties: {
        at: { ...time('Local time of the nightly reset. Quote it.'), default: '02:20' },
        timezone: { type: 'string', description: 'IANA time zone of `at`; default: the timezone in channels.yaml.' },
      },
    },
    defaults: {
      type: 'object',
      description: 'Channel name (or numeric id) -> the priority restored at the reset. Only these channels are ever written.',
      additionalProperties: { type: 'integer' },
    },
    demoted: { type: 'integer', description: 'The priority of a channel whose free quota is used up.' },
    routing_delay: {
      anyOf: [{ type: 'integer', minimum: 0, maximum: 3600 }, { const: 'auto' }],
      default: 'auto',
      description: "Seconds until OneAPI routes by a new priority (its channel cache), or auto (the default): measured from the rows after each demotion, starting from the flavor's value (one-api 600, new-api and one-hub 0).",
    },
  },
} as const;

/** The keys a mapping may hold, in the schema's order. */
export const keysOf = (s: { properties: Record<string, unknown> }): string[] => Object.keys(s.properties);

export const BUDGET_SCHEMA = budget;

/** The files `npm run schema` writes into schemas/, by name. */
export function schemaFiles(): Record<string, string> {
  const text = (s: unknown) => JSON.stringify(s, null, 2) + '\n';
  return { 'channels.schema.json': text(CHANNELS_SCHEMA), 'priorities.schema.json': text(PRIORITIES_SCHEMA) };
}
