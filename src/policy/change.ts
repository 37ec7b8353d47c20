/**
 * One priority write: the difference between what a channel has and what the policy wants. Declared with the
 * policy, so that reconcile (which writes it) and events (which alert on it) share it without importing each other.
 */
export interface Change {
  id: number;
  name: string;
  from: number;
  to: number;
  reason: string;
}
