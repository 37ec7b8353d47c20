import { readFileSync } from 'node:fs';

/** Who holds the state lock, as written in the lock file. */
export interface LockOwner {
  pid: number;
  host: string;
  /** The command holding it: "run", "once", "reset". */
  command: string;
  /** Unix ms when taken. */
  since: number;
  /**
   * The holder's start time in clock ticks since boot (/proc/<pid>/stat field 22), when /proc was there: compared
   * exactly, it tells the holder from a later process that got the same pid.
   */
  startTicks?: number;
}

/** What is known of the process that has the lock's pid now, on this host. */
export interface ProcessInfo {
  alive: boolean;
  /** Field 22 of /proc/<pid>/stat; absent without /proc. */
  startTicks?: number;
  /** When it started, unix ms (boot time + ticks); absent without /proc. */
  startedAtMs?: number;
}

/** Everything the stale rule looks at, gathered by the caller (nothing here reads the clock or the disk). */
export interface LockFacts {
  /** The parsed lock file; null when it does not parse. */
  owner: LockOwner | null;
  /** The lock file's mtime: the holder's heartbeat. */
  mtimeMs: number;
  nowMs: number;
  self: { pid: number; host: string };
  /** This process holds a lock with exactly this owner (a second acquire in the same process waits like any other). */
  heldHere: boolean;
  /** Looks up a pid on this host. */
  probe: (pid: number) => ProcessInfo;
}

/** A holder refreshes its lock's mtime this often while it holds it. */
export const HEARTBEAT_MS = 30_000;
/**
 * A lock from another host is stale once its heartbeat is this old: ten missed beats. A long backfill is no reason
 * (its heartbeat goes on); hosts sharing a state dir need clocks that agree to well within this.
 */
export const FOREIGN_STALE_MS = 5 * 60_000;
/** A lock that does not parse: its writer is between open and write, or died there. */
export const UNREADABLE_STALE_MS = 5_000;
// Boot time in /proc/stat is whole seconds and moves when the clock is stepped: a start this much after the lock's
// `since` is beyond those errors.
const START_SLACK_MS = 2_000;

/** Why the lock is stale (safe to break), or null while its holder may still be working. */
export function staleReason(f: LockFacts): string | null {
  const age = f.nowMs - f.mtimeMs;
  const o = f.owner;
  if (o === null) return age > UNREADABLE_STALE_MS ? `unreadable lock file, unchanged for ${Math.round(age / 1000)} s` : null;
  if (o.host !== f.self.host)
    return age > FOREIGN_STALE_MS ? `held from another host (${o.host}) whose heartbeat stopped ${Math.round(age / 1000)} s ago` : null;
  if (o.pid === f.self.pid) return f.heldHere ? null : `names our own pid ${o.pid}: a previous process with the same pid took it`;
  const p = f.probe(o.pid);
  if (!p.alive) return `pid ${o.pid} is not running`;
  if (o.startTicks !== undefined && p.startTicks !== undefined)
    return o.startTicks === p.startTicks ? null : `pid ${o.pid} is another process now (started at tick ${p.startTicks}, the holder at tick ${o.startTicks})`;
  if (p.startedAtMs !== undefined && p.startedAtMs > o.since + START_SLACK_MS)
    return `pid ${o.pid} started at ${new Date(p.startedAtMs).toISOString()}, after the lock was taken`;
  return null;
}

// USER_HZ: what /proc counts ticks in. It is 100 on every Linux architecture Node runs on (the kernel's HZ may differ).
const TICKS_PER_SEC = 100;

/** Field 22 (starttime) of a /proc/<pid>/stat line; the command name in field 2 may hold spaces and parentheses. */
export function parseProcStat(line: string): { state: string; startTicks: number } | null {
  const rest = line.slice(line.lastIndexOf(')') + 2).split(' ');
  const startTicks = Number(rest[19]);
  return rest[0] && Number.isInteger(startTicks) ? { state: rest[0], startTicks } : null;
}

function bootTimeMs(): number | undefined {
  const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
  return m ? Number(m[1]) * 1000 : undefined;
}

let hasProc: boolean | undefined;

/** Looks a pid up in /proc; without /proc (not Linux), only whether it is alive. */
export function probeProcess(pid: number): ProcessInfo {
  hasProc ??= (() => {
    try {
      readFileSync('/proc/self/stat');
      return true;
    } catch {
      return false;
    }
  })();
  if (!hasProc) return { alive: signalable(pid) };
  let stat;
  try {
    stat = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    // Gone, or hidden from us (hidepid): the pid check decides.
    return { alive: signalable(pid) };
  }
  if (!stat) return { alive: true };
  // A zombie has exited; only its parent has not collected it yet.
  if (stat.state === 'Z' || stat.state === 'X') return { alive: false };
  const boot = bootTimeMs();
  return { alive: true, startTicks: stat.startTicks, startedAtMs: boot === undefined ? undefined : boot + (stat.startTicks * 1000) / TICKS_PER_SEC };
}

function signalable(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
