/** The layouts a webhook receiver understands. */
export type WebhookFormat = 'generic' | 'feishu' | 'dingtalk' | 'wecom' | 'slack';

/** One place alerts go. `name` is safe to log; `url` and `secret` never are. */
export interface WebhookTarget {
  url: string;
  format: WebhookFormat;
  secret?: string;
  name: string;
}

const FORMATS: readonly WebhookFormat[] = ['generic', 'feishu', 'dingtalk', 'wecom', 'slack'];
// Only these two bots have a signing scheme; a secret anywhere else would be silently ignored, so it is an error.
const SIGNING: readonly WebhookFormat[] = ['feishu', 'dingtalk'];
const PREFIX = 'ALERT_WEBHOOK_';
const NUMBERED = /^ALERT_WEBHOOK_(URL|FORMAT|SECRET)_(\d+)$/;

/** Scheme and host of a URL, for messages: webhook paths and queries carry the bot's token. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '[invalid url]';
  }
}

/**
 * Reads ALERT_WEBHOOK_URL/_FORMAT/_SECRET (target 1) and ALERT_WEBHOOK_URL_n/_FORMAT_n/_SECRET_n (n ≥ 2, gaps
 * allowed). Every problem names its variable and never contains a URL or a secret.
 */
export function webhookTargets(env: Record<string, string | undefined>): {
  targets: WebhookTarget[];
  problems: string[];
} {
  const get = (key: string): string | undefined => {
    const v = env[key]?.trim();
    return v ? v : undefined; // `ALERT_WEBHOOK_URL=` in an env file means "not set"
  };
  const problems: string[] = [];
  const numbers = new Set<number>([1]);
  for (const key of Object.keys(env)) {
    const m = NUMBERED.exec(key);
    if (!m || get(key) === undefined) continue;
    const n = Number(m[2]);
    if (n >= 2) numbers.add(n);
    else problems.push(`${key}: numbered targets start at 2; use ${PREFIX}${m[1]} for the first one`);
  }

  const targets: WebhookTarget[] = [];
  for (const n of [...numbers].sort((a, b) => a - b)) {
    const suffix = n === 1 ? '' : `_${n}`;
    const urlVar = `${PREFIX}URL${suffix}`;
    const formatVar = `${PREFIX}FORMAT${suffix}`;
    const secretVar = `${PREFIX}SECRET${suffix}`;
    const url = get(urlVar);
    const rawFormat = get(formatVar);
    const secret = get(secretVar);
    if (url === undefined) {
      if (rawFormat !== undefined) problems.push(`${formatVar}: set without ${urlVar}`);
      if (secret !== undefined) problems.push(`${secretVar}: set without ${urlVar}`);
      continue;
    }
    let ok = true;
    if (!isHttpUrl(url)) {
      problems.push(`${urlVar}: not an http(s) URL`);
      ok = false;
    }
    const format = (rawFormat ?? 'generic').toLowerCase() as WebhookFormat;
    if (!FORMATS.includes(format)) {
      problems.push(`${formatVar}: unknown format "${rawFormat}" (expected one of ${FORMATS.join(', ')})`);
      ok = false;
    } else if (secret !== undefined && !SIGNING.includes(format)) {
      problems.push(`${secretVar}: format ${format} does not sign requests (only ${SIGNING.join(' and ')} do)`);
      ok = false;
    }
    if (ok) targets.push({ url, format, ...(secret !== undefined && { secret }), name: `webhook ${n} (${format})` });
  }
  return { targets, problems };
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.host !== '';
  } catch {
    return false;
  }
}
