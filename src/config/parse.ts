import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit } from 'yaml';
import type { Document, Node, Pair } from 'yaml';
import type { ConfigIssue, Source } from './types.js';

/** One key of a YAML mapping, with the dotted path used in messages. */
export interface Entry {
  path: string;
  keyNode: Node | null;
  value: Node | null;
}

/** One parsed YAML file: turns nodes into positions and collects its issues. */
export class YamlFile {
  readonly issues: ConfigIssue[] = [];

  constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** The root node, or null for a file with nothing but comments. */
  get root(): Node | null {
    return this.deref(this.doc.contents as Node | null);
  }

  /** Follows an alias (`*x`) to the node it names. */
  deref(node: Node | null | undefined): Node | null {
    if (node && isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? null;
    return node ?? null;
  }

  pos(node: Node | null | undefined): Source {
    const { line, col } = this.lines.linePos(node?.range?.[0] ?? 0);
    return { file: this.file, line, col };
  }

  /** Where an entry's value starts; its key when the value is empty (`window:`). */
  at(e: Entry): Source {
    const v = e.value;
    const empty = !v || (isScalar(v) && v.value === null && v.range?.[0] === v.range?.[1]);
    return this.pos(empty ? e.keyNode : v);
  }

  error(src: Source, key: string, message: string): void {
    this.issues.push({ severity: 'error', ...src, key, message });
  }

  warn(src: Source, key: string, message: string): void {
    this.issues.push({ severity: 'warning', ...src, key, message });
  }
}

/** A file that could not be parsed into nodes at all: only its issues remain. */
export interface Unreadable {
  issues: ConfigIssue[];
}

/** What a caller read: its text, null when the file is missing, or why reading failed. */
export type FileText = string | null | { readError: string };

const at1 = (file: string) => ({ file, line: 1, col: 1 });

/**
 * Aliases (`*x`) one file may use: each is resolved by a walk of the document, so thousands of them cost seconds of
 * blocked event loop (validate, a SIGHUP reload). yaml's own toJS stops at 100 (its maxAliasCount) for the same reason.
 */
export const MAX_ALIASES = 100;

/**
 * Parses one YAML file. Syntax errors, a missing file and an empty file give `Unreadable`.
 * Duplicate keys are checked here rather than by `yaml` itself, so they come with a dotted path.
 */
export function readYaml(file: string, text: FileText, hint: string): YamlFile | Unreadable {
  const fail = (message: string, key = '(file)'): Unreadable => ({
    issues: [{ severity: 'error', ...at1(file), key, message }],
  });
  if (text === null) return fail(`file not found; ${hint}`);
  if (typeof text !== 'string') return fail(`cannot read file: ${text.readError}`);
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, lineCounter: lines, uniqueKeys: false });
  if (doc.errors.length > 0) {
    return {
      issues: doc.errors.map((e) => ({
        severity: 'error' as const,
        file,
        line: e.linePos?.[0].line ?? 1,
        col: e.linePos?.[0].col ?? 1,
        key: '(yaml)',
        // prettyErrors appends "at line N, column M:" and a code frame; the position is ours to give.
        message: e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, ''),
      })),
    };
  }
  let aliases = 0;
  let excess: Node | undefined;
  visit(doc, {
    Alias(_, node) {
      if (++aliases <= MAX_ALIASES) return undefined;
      excess = node;
      return visit.BREAK;
    },
  });
  if (excess) {
    const { line, col } = lines.linePos(excess.range?.[0] ?? 0);
    return { issues: [{ severity: 'error', file, line, col, key: '(yaml)', message: `more than ${MAX_ALIASES} aliases (*name) in one file; quota-pilot expands at most ${MAX_ALIASES}: write the values out` }] };
  }
  const y = new YamlFile(file, doc, lines);
  if (y.root === null) return fail(`file is empty; ${hint}`);
  for (const w of doc.warnings) y.warn(y.pos(null), '(yaml)', w.message.split('\n')[0]);
  checkDuplicateKeys(y, y.root, '');
  return y;
}

export function isUnreadable(f: YamlFile | Unreadable): f is Unreadable {
  return !(f instanceof YamlFile);
}

export const join = (path: string, key: string | number): string =>
  typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key;

function keyText(pair: Pair): string {
  return isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
}

function checkDuplicateKeys(y: YamlFile, node: Node | null, path: string): void {
  if (isMap(node)) {
    const seen = new Map<string, Source>();
    for (const pair of node.items) {
      const k = isScalar(pair.key) ? pair.key.value : pair.key;
      // 7 and "7" are different keys (an id and a name), as they are to `yaml`.
      const id = `${typeof k}:${String(k)}`;
      const first = seen.get(id);
      const keyPath = join(path, keyText(pair));
      if (first) {
        y.error(y.pos(pair.key as Node), keyPath, `duplicate key; already set on line ${first.line}`);
      } else seen.set(id, y.pos(pair.key as Node));
      checkDuplicateKeys(y, pair.value as Node | null, keyPath);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => checkDuplicateKeys(y, item as Node, join(path, i)));
  }
}

/**
 * The entries of a mapping by key. With `known`, any other key is an error with a suggestion.
 * Returns undefined (after reporting) when the node is not a mapping.
 */
export function entries(
  y: YamlFile,
  e: Entry,
  known: readonly string[] | null,
): { map: Map<string, Entry>; pairs: Pair[] } | undefined {
  const node = y.deref(e.value);
  if (!isMap(node)) {
    y.error(y.at(e), e.path || '(root)', `must be a mapping of keys to values (got ${describe(node)})`);
    return undefined;
  }
  const map = new Map<string, Entry>();
  for (const pair of node.items) {
    const name = keyText(pair);
    const entry: Entry = { path: join(e.path, name), keyNode: pair.key as Node, value: pair.value as Node | null };
    if (known && !known.includes(name)) {
      y.error(y.pos(entry.keyNode), entry.path, unknownKey(name, known));
      continue;
    }
    if (!map.has(name)) map.set(name, entry);
  }
  return { map, pairs: node.items as Pair[] };
}

function unknownKey(name: string, known: readonly string[]): string {
  const near = known
    .map((k) => ({ k, d: editDistance(name, k) }))
    .filter((c) => c.d <= 2)
    .sort((a, b) => a.d - b.d)[0];
  return near ? `unknown key; did you mean "${near.k}"?` : `unknown key; allowed here: ${known.join(', ')}`;
}

/** Levenshtein distance. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** How a value looks to the person who wrote it, for "(got …)". */
export function describe(node: Node | null | undefined): string {
  if (!node || (isScalar(node) && node.value === null)) return 'an empty value';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (typeof v === 'string') return JSON.stringify(v);
    if (v instanceof Date) return v.toISOString().slice(0, 10);
    return String(v);
  }
  return 'an unsupported value';
}

/** The plain value of a scalar node (aliases followed); undefined for mappings and lists. */
export function scalar(y: YamlFile, node: Node | null): unknown {
  const n = y.deref(node);
  return isScalar(n) ? n.value : undefined;
}
