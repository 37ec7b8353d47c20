import { DateTime } from 'luxon';

/** 1234567 -> "1,234,567", as `status` prints numbers. */
import { num } from '../platform/format.js';
export { num };

/** 1900000 -> "1.9M", 500000 -> "500k". */
export function compactTokens(n: number): string {
  if (n >= 1e6) return `${+(n / 1e6).toFixed(n >= 1e7 ? 1 : 2)}M`;
  if (n >= 1e3) return `${+(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}k`;
  return String(n);
}

/** Text for HTML content and attribute values. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Unix seconds as local time in the config's zone, e.g. "11-25 02:09"; with the date's year when `full`. */
export function localTime(sec: number, tz: string, full = false): string {
  return DateTime.fromSeconds(sec, { zone: tz }).toFormat(full ? 'yyyy-MM-dd HH:mm' : 'MM-dd HH:mm');
}
