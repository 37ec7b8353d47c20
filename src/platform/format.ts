/**
 * A number with thousands separators, as `toLocaleString('en-US')` writes it. Whole numbers are grouped here:
 * the first Intl formatter of a process costs ~25 ms of ICU start-up, more than a quiet cycle's own work.
 */
export function num(n: number): string {
  return Number.isSafeInteger(n) ? String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',') : n.toLocaleString('en-US');
}
