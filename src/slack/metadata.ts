import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { LIMITS } from './blocks.js';

/**
 * Signed `private_metadata`. Slack hands a modal's metadata back verbatim, but a forged (yet signed)
 * view_submission can carry any text there, so what the bot stored (channel, verb, run id, who opened
 * the modal) is sealed with an HMAC and refused when it does not verify. The key is derived with HKDF
 * from a secret every replica already shares, so a modal opened by one web replica verifies on another.
 */
export type MetaKind = 'runbook' | 'deny' | 'abort';

const MAX_AGE_MS = 24 * 3600_000;

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export class MetadataSealer {
  readonly #key: Buffer;

  constructor(secret: string) {
    if (!secret) throw new Error('MetadataSealer needs a secret');
    this.#key = Buffer.from(hkdfSync('sha256', secret, 'dbops', 'slack private_metadata v1', 32));
  }

  /** `<payload>.<mac>`; the kind is inside the MAC so a deny modal's metadata cannot open a runbook modal. */
  seal(kind: MetaKind, data: Record<string, unknown>): string {
    const body = b64(JSON.stringify({ ...data, k: kind, iat: Date.now() }));
    const sealed = `${body}.${this.#mac(body)}`;
    if (sealed.length > LIMITS.privateMetadata) throw new Error('private_metadata too long');
    return sealed;
  }

  /** The data if the text is ours, of this kind, not older than a day and matching the schema; else undefined. */
  open<T>(kind: MetaKind, text: unknown, schema: z.ZodType<T>): T | undefined {
    if (typeof text !== 'string' || text.length > LIMITS.privateMetadata) return undefined;
    const dot = text.indexOf('.');
    if (dot <= 0) return undefined;
    const body = text.slice(0, dot);
    const mac = Buffer.from(text.slice(dot + 1), 'base64url');
    const want = Buffer.from(this.#mac(body), 'base64url');
    if (mac.length !== want.length || !timingSafeEqual(mac, want)) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    const env = z.object({ k: z.literal(kind), iat: z.number() }).passthrough().safeParse(json);
    if (!env.success || Date.now() - env.data.iat > MAX_AGE_MS) return undefined;
    const r = schema.safeParse(json);
    return r.success ? r.data : undefined;
  }

  #mac(body: string): string {
    return b64(createHmac('sha256', this.#key).update(body).digest());
  }
}

/** Socket Mode has no signing secret; the bot token is then the secret all replicas share. */
export function metadataSealerFor(config: { slackSigningSecret?: string; slackBotToken: string }): MetadataSealer {
  return new MetadataSealer(config.slackSigningSecret ?? config.slackBotToken);
}

/** Slack user ids (never a user-group S… or a bot B…): the only ids that may request, approve or deny. */
export const slackUserId = z.string().regex(/^[UW][A-Z0-9]{1,30}$/);
export const slackChannelId = z.string().regex(/^[CDG][A-Z0-9]{1,30}$/);

/** What the generic and kill modals carry: which verb, where to answer, and who opened it. */
export const runbookMeta = z.object({ verb: z.string().regex(/^[a-z][a-z-]{0,39}$/), channel: slackChannelId, user: slackUserId });
export type RunbookMeta = z.infer<typeof runbookMeta>;

export const denyMeta = z.object({ runId: z.string().regex(/^r_[a-z0-9]{6,40}$/), user: slackUserId });
export type DenyMeta = z.infer<typeof denyMeta>;
