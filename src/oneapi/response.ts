import { OneApiError } from './types.js';

/** The parts of an HTTP answer the classifier looks at. Never axios' own objects: their config holds the token. */
export interface RawAnswer {
  status: number;
  body: string;
}

/** Either the envelope's `data`, or the error the answer amounts to. */
export type Interpreted = { ok: true; data: unknown } | { ok: false; error: OneApiError };

interface Envelope {
  success: boolean;
  message: string;
  code?: string;
  data: unknown;
}

// Refusals of the credential itself, as one-api, new-api and one-hub word them (classic code sends them as
// HTTP 200 with success:false): '无权进行此操作，access token 无效', '…未提供 New-Api-User',
// '…New-Api-User 格式错误', '…与登录用户不匹配', '…权限不足', '用户已被封禁'.
// Newer new-api adds a `code` such as AUTH_UNAUTHORIZED.
const AUTH_MESSAGE = /无权进行此操作|New-Api-User|access token|已被封禁|未登录|unauthori[sz]ed/i;

const AUTH_HINT =
  'OneAPI refused the access token (check ONEAPI_ACCESS_TOKEN, that its user is an admin, ' +
  'and for new-api ONEAPI_USER_ID)';

const MAX_SERVER_TEXT = 300;

function parseEnvelope(body: string): Envelope | undefined {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  const o = json as Record<string, unknown>;
  if (typeof o.success !== 'boolean') return undefined;
  return {
    success: o.success,
    message: typeof o.message === 'string' ? o.message : '',
    code: typeof o.code === 'string' ? o.code : undefined,
    data: o.data,
  };
}

function looksLikeAuth(env: Envelope): boolean {
  return (env.code?.startsWith('AUTH_') ?? false) || AUTH_MESSAGE.test(env.message);
}

/**
 * Classifies one HTTP answer. OneAPI reports most failures as HTTP 200 with `success:false`, so the envelope is
 * checked on every answer and the status code alone is never trusted. `scrub` removes the token from server text.
 */
export function interpret(answer: RawAnswer, endpoint: string, scrub: (s: string) => string): Interpreted {
  const { status } = answer;
  const env = parseEnvelope(answer.body);
  // Scrubbed before it is cut: a token that crosses the cut would otherwise survive in part.
  const said = env?.message ? `: ${scrub(env.message).slice(0, MAX_SERVER_TEXT)}` : '';
  const fail = (kind: OneApiError['kind'], message: string): Interpreted => ({
    ok: false,
    error: new OneApiError(message, kind, endpoint, status),
  });

  // The global API limiter answers 429 with an empty body.
  if (status === 429) return fail('rate-limited', `OneAPI rate limit hit (HTTP 429) on ${endpoint}`);
  if (status >= 500) return fail('server', `OneAPI server error (HTTP ${status}) on ${endpoint}${said}`);
  if (status === 401 || status === 403 || (env && !env.success && looksLikeAuth(env))) {
    return fail('auth', `${AUTH_HINT} on ${endpoint} (HTTP ${status})${said}`);
  }
  if (env && !env.success) return fail('rejected', `OneAPI rejected ${endpoint} (HTTP ${status})${said}`);
  if (status < 200 || status > 299) return fail('rejected', `OneAPI rejected ${endpoint} (HTTP ${status})${said}`);
  if (!env) {
    return fail('bad-response', `OneAPI answered ${endpoint} without a {success, message, data} JSON envelope`);
  }
  return { ok: true, data: env.data };
}
