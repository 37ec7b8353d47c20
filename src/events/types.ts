/** What quota-pilot tells people about, through alerts (webhooks). */
export type EventKind =
  | 'budget-warning' // a budget crossed warn_at (once per window)
  | 'budget-projected' // at the current burn rate a budget runs out before its window ends (once per window)
  | 'channel-demoted' // a priority write lowered a channel to `demoted`
  | 'channel-restored' // a priority write raised a channel back to its default
  | 'reset-done' // the nightly reset ran, with a summary
  | 'oneapi-unreachable' // OneAPI has failed for N minutes
  | 'oneapi-recovered' // OneAPI answers again after an outage that was alerted
  | 'auth-rejected' // OneAPI refused the access token
  | 'channel-auto-disabled' // OneAPI auto-disabled (status 3) a managed channel
  | 'demotion-unmoved' // a demoted channel kept receiving traffic well past routing_delay
  | 'budget-stopped' // OneAPI auto-disabled a budgeted channel before its budget was spent by the logs (once per window)
  | 'channel-reenabled' // an auto-disabled channel was enabled again when its window renewed (reenable_at_renewal)
  | 'budget-unresolved' // a channel the config names is not (exactly once) in OneAPI: its budgets are not enforced
  | 'state-locked' // the daemon has waited longer than its poll interval for the state lock (once per episode)
  | 'routing-delay-disagrees'; // the routing delay measured after demotions is far from routing_delay (once)

export type Severity = 'info' | 'warning' | 'critical';

/** One event, already worded for people; formatters only lay it out. */
export interface AlertEvent {
  kind: EventKind;
  severity: Severity;
  /** Short, e.g. "volc-deepseek demoted (budget exhausted)". */
  title: string;
  /** One or a few sentences with the numbers, e.g. the change reason. */
  text: string;
  /** Unix seconds when it happened. */
  at: number;
  /** The data behind the text, for machine consumers (the generic JSON format sends it as is). */
  fields: Record<string, string | number | boolean | null | Array<string | number>>;
}
