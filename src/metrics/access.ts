import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/** Who may use the HTTP listener: the credential every path but /healthz needs, and whether Host is checked. */
export interface Access {
  /** QP_LISTEN_TOKEN; undefined when none is required. */
  token?: string;
  /**
   * On a loopback listener: refuse a request whose Host is not a loopback name or address. A web page on another
   * site can make a browser send requests to 127.0.0.1 under its own name (DNS rebinding); its Host gives it away.
   */
  loopbackHostsOnly: boolean;
  /** Logged at start: the listener is reachable beyond this machine. */
  warning?: string;
}

/** A loopback name or address: localhost (and *.localhost), 127.0.0.0/8, ::1, an IPv4-mapped 127.x. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^(0{0,4}:){0,5}:?ffff:127\./.test(h) || /^(0{1,4}:){7}0{0,3}1$/.test(h);
  return false;
}

/**
 * The rules for a listen address. A loopback one checks Host and needs the token only when one is set. Any other
 * (0.0.0.0, a LAN address, a name) serves the network: it needs QP_LISTEN_TOKEN, or `open` (--listen-without-token)
 * to serve without one, and either way it is a warning at start. Throws an Error saying what to do.
 */
export function listenAccess(host: string, token: string | undefined, open: boolean): Access {
  const t = token?.trim() || undefined;
  if (isLoopback(host)) return { token: t, loopbackHostsOnly: true };
  if (t) return { token: t, loopbackHostsOnly: false, warning: 'listening beyond loopback: every path but /healthz needs QP_LISTEN_TOKEN' };
  if (open) return { loopbackHostsOnly: false, warning: 'listening beyond loopback without a credential (--listen-without-token): the dashboard, /api and /metrics are open to the network' };
  throw new Error(
    `${host} is not a loopback address: the dashboard, /api and /metrics would be open to the network. ` +
      'Set QP_LISTEN_TOKEN in the environment file (then send it as a bearer token or a basic-auth password), or pass --listen-without-token',
  );
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Constant-time: the time taken does not depend on how much of the token a guess got right (digests are equal-length). */
function sameSecret(given: string, token: string): boolean {
  return timingSafeEqual(digest(given), digest(token));
}

/** An Authorization header that carries the token: `Bearer <token>`, or Basic with any user name and the token as password. */
export function authorized(header: string | undefined, token: string): boolean {
  const m = /^(Bearer|Basic)\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m) return false;
  if (m[1].toLowerCase() === 'bearer') return sameSecret(m[2], token);
  const decoded = Buffer.from(m[2], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 && sameSecret(decoded.slice(colon + 1), token);
}

/** The host name of a Host header (`[::1]:9464` -> `::1`, `localhost:9464` -> `localhost`); '' when absent. */
export function hostOf(header: string | undefined): string {
  const h = (header ?? '').trim();
  const bracketed = /^\[([^\]]*)\](:\d*)?$/.exec(h);
  if (bracketed) return bracketed[1];
  return h.replace(/:\d*$/, '');
}

/** Why a request is refused (status and text), or undefined when it may go on. */
export function refusal(a: Access, path: string, headers: { host?: string; authorization?: string }): { status: number; body: string } | undefined {
  if (a.loopbackHostsOnly && !isLoopback(hostOf(headers.host))) return { status: 403, body: 'forbidden: Host is not a loopback name or address\n' };
  if (a.token && path !== '/healthz' && !authorized(headers.authorization, a.token)) return { status: 401, body: 'unauthorized: send QP_LISTEN_TOKEN as a bearer token or basic-auth password\n' };
  return undefined;
}
