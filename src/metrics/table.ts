import { Registry, type Metric, type MetricObjectWithValues, type MetricValue } from 'prom-client';

/** A row of a GaugeTable (a budget, a channel): its labels, and the same labels as exposition text (labelText). */
export interface TableRow {
  labels: Record<string, string>;
  text: string;
}

/** Where a GaugeTable's series come from, read at each scrape. */
export interface TableSource<R extends TableRow> {
  /** The rows now: a new array whenever anything in them changes (the table keeps its text for the same array). */
  rows(): readonly R[];
  /** The row's value; with `split`, its value for each of the split label's values. null: no series. */
  value(row: R, split?: string): number | null;
  /** One series per row and value of this label (quota_pilot_budget_state's `state`). */
  split?: { label: string; values: readonly string[] };
}

/**
 * Labels as the exposition format writes them inside the braces, `a="x",b="y"`, in the object's key order and
 * escaped exactly as prom-client escapes them, so a scrape reads the same bytes as with a prom-client Gauge.
 */
export function labelText(labels: Record<string, string>): string {
  let out = '';
  for (const name in labels) out += `${out ? ',' : ''}${name}="${escapeLabel(labels[name])}"`;
  return out;
}

// A plain test first: label values almost never hold a character that needs escaping.
const escapeLabel = (v: string) => (/[\\\n"]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : v);
const escapeHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

/** A value as prom-client writes it (its spelling of NaN included). */
function valueText(v: number): string {
  if (Number.isNaN(v)) return 'Nan';
  if (!Number.isFinite(v)) return v < 0 ? '-Inf' : '+Inf';
  return `${v}`;
}

/**
 * A gauge over rows that the caller replaces all at once (every budget, every channel, each cycle), written out at
 * each scrape. A prom-client Gauge validates, hashes and stores a label object on every set() and formats every
 * label again on every scrape: with 2,000 budgets (16,000 series) that was most of the daemon's CPU between polls.
 * Here a row's label text is made once, and a scrape only joins lines. `get()` answers as a prom-client metric does.
 */
export class GaugeTable<R extends TableRow> {
  readonly type = 'gauge' as const;
  readonly aggregator = 'sum' as const;
  private readonly head: string;
  private readonly splitText: string[];
  private written: { rows: readonly R[]; text: string } | null = null;

  constructor(
    readonly name: string,
    readonly help: string,
    registry: TableRegistry,
    private readonly source: TableSource<R>,
  ) {
    this.head = `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} gauge`;
    const split = source.split;
    this.splitText = split ? split.values.map((v) => `,${labelText({ [split.label]: v })}`) : [];
    registry.registerMetric(this as unknown as Metric);
  }

  /** The rows are the source's; there is nothing of the table's own to reset. */
  reset(): void {}

  async get(): Promise<MetricObjectWithValues<MetricValue<string>>> {
    const values: MetricValue<string>[] = [];
    const label = this.source.split?.label;
    this.each((row, value, split) => values.push({ value, labels: label === undefined ? { ...row.labels } : { ...row.labels, [label]: split! } }));
    // The keys in the order of prom-client's own get(), so getMetricsAsJSON() reads the same.
    const metric = { help: this.help, name: this.name, type: this.type, values, aggregator: this.aggregator };
    return metric as unknown as MetricObjectWithValues<MetricValue<string>>;
  }

  /**
   * The family in the exposition format, as Registry.getMetricsAsString writes one (no trailing newline). Kept for
   * the same rows: Prometheus often scrapes more often than the daemon polls.
   */
  text(): string {
    const rows = this.source.rows();
    if (this.written?.rows === rows) return this.written.text;
    const lines = [this.head];
    const prefix = `${this.name}{`;
    this.each((row, value, _split, i) => lines.push(`${prefix}${row.text}${i === undefined ? '' : this.splitText[i]}} ${valueText(value)}`), rows);
    this.written = { rows, text: lines.join('\n') };
    return this.written.text;
  }

  /** Calls `f` for each series: its row, value, and with a split the split label's value and its index. */
  private each(f: (row: R, value: number, split?: string, i?: number) => void, rows = this.source.rows()): void {
    const { split, value: valueOf } = this.source;
    for (const row of rows) {
      if (!split) {
        const value = valueOf(row);
        if (value !== null) f(row, value);
        continue;
      }
      for (let i = 0; i < split.values.length; i++) {
        const value = valueOf(row, split.values[i]);
        if (value !== null) f(row, value, split.values[i], i);
      }
    }
  }
}

type AsString = (metric: unknown) => Promise<string>;
const promString = (Registry.prototype as unknown as { getMetricsAsString: AsString }).getMetricsAsString;

/**
 * A prom-client Registry that writes GaugeTables itself and, before each scrape, runs `beforeScrape` (values that
 * are computed only when someone reads them).
 */
export class TableRegistry extends Registry {
  beforeScrape: (() => Promise<void>) | undefined;

  override async metrics(): Promise<string> {
    await this.beforeScrape?.();
    return super.metrics();
  }

  // Registry.metrics() formats each metric through this method (prom-client 15; not in its typings).
  getMetricsAsString(metric: unknown): Promise<string> {
    return metric instanceof GaugeTable ? Promise.resolve(metric.text()) : promString.call(this, metric);
  }
}
