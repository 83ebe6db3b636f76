import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Who may open the queue dashboard: a token, basic-auth credentials, or both. */
export interface AdminCredentials {
  token?: string;
  user?: string;
  password?: string;
}

export const ADMIN_COOKIE = 'dbops_admin';

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The cookie holds a MAC of the token, never the token itself (it may end up in browser storage). */
export function sessionValue(token: string): string {
  return createHmac('sha256', token).update('dbops admin session v1').digest('base64url');
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of String(req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

export type AuthResult = { ok: true } | { ok: false } | { ok: 'redirect'; location: string; setCookie: string };

/**
 * Accepts `Authorization: Bearer <token>`, the session cookie, `Authorization: Basic` with the
 * user and password, or `?token=<token>` once: that sets the cookie and redirects to the same URL
 * without the token (so it does not stay in the address bar or the history). All comparisons are
 * constant-time.
 */
export function authenticate(req: IncomingMessage, c: AdminCredentials, basePath: string): AuthResult {
  const header = String(req.headers.authorization ?? '');
  if (c.token) {
    const bearer = /^Bearer (.+)$/.exec(header);
    if (bearer && same(bearer[1]!, c.token)) return { ok: true };
    const session = cookie(req, ADMIN_COOKIE);
    if (session && same(session, sessionValue(c.token))) return { ok: true };
    const url = new URL(req.url ?? '/', 'http://localhost');
    const q = url.searchParams.get('token');
    if (q !== null && same(q, c.token)) {
      url.searchParams.delete('token');
      return {
        ok: 'redirect',
        location: url.pathname + url.search,
        // Strict same-site: a write call (retry/remove) cannot be forged from another site.
        setCookie: `${ADMIN_COOKIE}=${sessionValue(c.token)}; Path=${basePath}; HttpOnly; SameSite=Strict; Max-Age=43200${req.headers['x-forwarded-proto'] === 'https' ? '; Secure' : ''}`,
      };
    }
  }
  if (c.user && c.password) {
    const basic = /^Basic (.+)$/.exec(header);
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      // Both compared, always: no early exit telling which half was wrong.
      const userOk = i >= 0 && same(decoded.slice(0, i), c.user);
      const passOk = i >= 0 && same(decoded.slice(i + 1), c.password);
      if (userOk && passOk) return { ok: true };
    }
  }
  return { ok: false };
}

export function refuse(res: ServerResponse, c: AdminCredentials): void {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  // Only offer the browser's basic-auth prompt when basic auth is configured.
  if (c.user && c.password) headers['www-authenticate'] = 'Basic realm="dbops admin", charset="UTF-8"';
  res.writeHead(401, headers);
  res.end(JSON.stringify({ ok: false, error: 'admin needs DBOPS_ADMIN_TOKEN (Bearer or ?token=) or DBOPS_ADMIN_USER/DBOPS_ADMIN_PASSWORD' }));
}
