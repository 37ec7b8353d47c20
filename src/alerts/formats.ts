import { createHmac } from 'node:crypto';
import type { AlertEvent } from '../events/types.js';
import type { WebhookTarget } from './targets.js';

/** What to POST to a target for one event: the URL (DingTalk signs in the query) and the JSON body. */
export function payload(target: WebhookTarget, event: AlertEvent, nowMs: number): { url: string; body: unknown } {
  // Plain-text severity marker: every chat client renders it, and it survives copy and paste into a ticket.
  const title = `[${event.severity}] ${event.title}`;
  switch (target.format) {
    case 'generic':
      return {
        url: target.url,
        body: {
          source: 'quota-pilot',
          kind: event.kind,
          severity: event.severity,
          title: event.title,
          text: event.text,
          at: new Date(event.at * 1000).toISOString(),
          fields: event.fields,
        },
      };
    case 'feishu': {
      const body: Record<string, unknown> = { msg_type: 'text', content: { text: `${title}\n${event.text}` } };
      if (target.secret !== undefined) Object.assign(body, feishuSign(target.secret, nowMs));
      return { url: target.url, body };
    }
    case 'dingtalk': {
      const body = { msgtype: 'markdown', markdown: { title, text: `### ${title}\n\n${event.text}` } };
      if (target.secret === undefined) return { url: target.url, body };
      const { timestamp, sign } = dingtalkSign(target.secret, nowMs);
      const sep = target.url.includes('?') ? '&' : '?';
      return { url: `${target.url}${sep}timestamp=${timestamp}&sign=${encodeURIComponent(sign)}`, body };
    }
    case 'wecom':
      return { url: target.url, body: { msgtype: 'markdown', markdown: { content: `**${title}**\n${event.text}` } } };
    case 'slack':
      return { url: target.url, body: { text: `*${slackEscape(title)}*\n${slackEscape(event.text)}` } };
  }
}

/**
 * Feishu custom bot: HMAC-SHA256 keyed with "<timestamp seconds>\n<secret>" over an empty message, base64; sent
 * in the body. (The key/message order is the reverse of DingTalk's; both are as documented.)
 */
export function feishuSign(secret: string, nowMs: number): { timestamp: string; sign: string } {
  const timestamp = String(Math.floor(nowMs / 1000));
  const sign = createHmac('sha256', `${timestamp}\n${secret}`).update('').digest('base64');
  return { timestamp, sign };
}

/** DingTalk custom bot: HMAC-SHA256 keyed with the secret over "<timestamp ms>\n<secret>", base64 (not yet URL-encoded). */
export function dingtalkSign(secret: string, nowMs: number): { timestamp: string; sign: string } {
  const timestamp = String(Math.floor(nowMs));
  const sign = createHmac('sha256', secret).update(`${timestamp}\n${secret}`).digest('base64');
  return { timestamp, sign };
}

// Slack treats &, < and > as control characters in message text (links, mentions), so they must be escaped.
function slackEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
