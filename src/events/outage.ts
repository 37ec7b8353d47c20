import type { AlertEvent } from './types.js';

/**
 * Follows OneAPI failures across cycles so that an outage is announced once, after it has lasted `minutes`, and
 * its end once; a refused token is announced once per streak.
 */
export class OutageTracker {
  private since: number | null = null;
  private alerted = false;
  private authAlerted = false;

  constructor(private readonly minutes: number) {}

  /** A cycle failed; `kind` is the OneApiError kind when there is one. Returns the events due now. */
  failed(error: { kind?: string; message: string }, nowSec: number): AlertEvent[] {
    if (error.kind === 'auth') {
      if (this.authAlerted) return [];
      this.authAlerted = true;
      return [{ kind: 'auth-rejected', severity: 'critical', at: nowSec, title: 'OneAPI refused the access token', text: `${error.message}. quota-pilot changes nothing until this is fixed.`, fields: { error: error.message } }];
    }
    this.since ??= nowSec;
    if (this.alerted || nowSec - this.since < this.minutes * 60) return [];
    this.alerted = true;
    const mins = Math.round((nowSec - this.since) / 60);
    return [{ kind: 'oneapi-unreachable', severity: 'critical', at: nowSec, title: `OneAPI unreachable for ${mins} minutes`, text: `${error.message}. No priority is changed while OneAPI cannot be read; free channels that run out meanwhile are not demoted.`, fields: { since: this.since, minutes: mins, error: error.message } }];
  }

  /** A cycle succeeded. Returns the recovery event if an outage had been announced. */
  succeeded(nowSec: number): AlertEvent[] {
    const events: AlertEvent[] = [];
    if (this.alerted && this.since !== null) {
      const mins = Math.round((nowSec - this.since) / 60);
      events.push({ kind: 'oneapi-recovered', severity: 'info', at: nowSec, title: `OneAPI reachable again after ${mins} minutes`, text: 'Cycles succeed again; priorities are being brought up to date.', fields: { since: this.since, minutes: mins } });
    }
    this.since = null;
    this.alerted = false;
    this.authAlerted = false;
    return events;
  }
}
