import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { resolvePolicy, type EffectivePolicy } from './approvals/policy.js';
import { parseDuration } from './duration.js';
import { registerSecret } from './log.js';
import { clusterSafePrefix, parseRedisUrl, redisUrlSchema } from './redis-url.js';
import type { BackupsConfig } from './providers/types.js';
import { thresholdsSchema, type ThresholdsConfig } from './postgres/thresholds.js';

/** Thrown at start-up with one line per problem; main prints them and exits 1 (no stack trace). */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

const slackId = (kind: string, re: RegExp) => z.string().regex(re, `must be a Slack ${kind} id`);
const approverId = slackId('user (U…/W…) or user-group (S…)', /^[UWS][A-Z0-9]{2,}$/);
const channelId = slackId('channel', /^[CGD][A-Z0-9]{2,}$/);

const riskRule = z.enum(['auto', 'approval']);
const quorum = z.number().int().min(1).max(5);
// Strict: a misspelt key (e.g. "aproval") must stop start-up, not silently leave a rule out.
const envPolicy = z
  .object({
    change: riskRule.optional(),
    /** Quorum per risk, e.g. { destructive: 2 }; a number sets both. */
    approvals: z.union([quorum, z.object({ change: quorum.optional(), destructive: quorum.optional() }).strict()]).optional(),
    /** Announce this environment's change runs in the incident channel (destructive ones always are). */
    announce: z.boolean().optional(),
  })
  .strict();
export type EnvPolicyConfig = z.infer<typeof envPolicy>;
export const policySchema = z
  .object({
    expiryMinutes: z.number().int().min(1).max(24 * 60).optional(),
    environments: z.record(z.string(), envPolicy).optional(),
    change: envPolicy.shape.change,
    approvals: envPolicy.shape.approvals,
    announce: envPolicy.shape.announce,
  })
  .strict();
export type PolicyConfig = z.infer<typeof policySchema>;

const targetSchema = z
  .object({
    environment: z.string().min(1),
    engine: z.enum(['self-hosted', 'aws-rds', 'aws-aurora', 'azure-flexible']),
    url: z.string().min(1),
    incidentChannel: channelId.optional(),
    approvers: z.array(approverId).optional(),
    /** @-mention the approvers (users and user groups) on approval cards; default true. */
    mentionApprovers: z.boolean().optional(),
    /** Destructive runs at once on this target; others wait in line ("queued behind run X"). Default 1. */
    maxDestructiveRuns: z.number().int().min(1).max(20).optional(),
    /** Health-report thresholds (warn/critical per key) over the check_postgres-style defaults. */
    thresholds: thresholdsSchema.optional(),
    policy: policySchema.optional(),
    protected: z.object({ apps: z.array(z.string()).default([]), users: z.array(z.string()).default([]) }).partial().optional(),
    maxSessions: z.number().int().min(1).max(100_000).optional(),
    /** Sessions one bot process may hold on this target at once; 2+ so a VACUUM step (work + poll) fits. */
    maxBotSessions: z.number().int().min(2).max(100).optional(),
    // Where the provider layer (src/providers) finds the engine's resources; credentials never live here.
    aws: z.object({ region: z.string(), instance: z.string().optional(), cluster: z.string().optional(), roleArn: z.string().regex(/^arn:aws[\w-]*:iam::\d{12}:role\/.+$/, 'must be an IAM role ARN').optional() }).strict().optional(),
    azure: z.object({ subscription: z.string().uuid('must be a subscription UUID'), resourceGroup: z.string(), server: z.string() }).optional(),
    /** Cloud restores: how to reach a restored instance, a URL template with {instance} {host} {port} and `${VAR}` like url (proxies, bastions; tests). Default: its API endpoint with url's credentials. */
    instanceUrl: z.string().optional(),
    /** Cloud restores: use these instead of the source's subnet group, security groups, parameter group and instance class. */
    restore: z.object({ subnetGroup: z.string().optional(), securityGroups: z.array(z.string()).optional(), parameterGroup: z.string().optional(), instanceClass: z.string().optional() }).strict().optional(),
    /** Restore validation: `schema.table.column`s whose newest value must not be later than the restore point. */
    freshness: z.array(z.string().regex(/^[^.\s]+\.[^.\s]+\.[^.\s]+$/, 'must be schema.table.column')).max(50).optional(),
    backups: z
      .object({
        /** A directory path or s3://bucket/prefix, shared by every worker. */
        store: z.string().min(1),
        keep: z.number().int().min(1).max(1000).optional(),
        keepDays: z.number().int().min(1).max(3650).optional(),
        jobs: z.number().int().min(1).max(64).optional(),
        /** A postgres:// URL for verify's scratch databases; `${VAR}` like `url`, a secret. */
        scratchUrl: z.string().optional(),
        s3: z.object({ region: z.string().optional(), forcePathStyle: z.boolean().optional() }).strict().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const targetsFileSchema = z
  .object({
    incidentChannel: channelId,
    approvers: z.array(approverId).default([]),
    mentionApprovers: z.boolean().optional(),
    policy: policySchema.optional(),
    channels: z.record(channelId, z.string()).optional(),
    targets: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/i, 'target names are letters, digits, - and _'), targetSchema),
  })
  .strict();

export interface Target {
  readonly name: string;
  readonly environment: string;
  readonly engine: 'self-hosted' | 'aws-rds' | 'aws-aurora' | 'azure-flexible';
  /** Resolved connection string. Never shown in Slack or logs (registered as a secret). */
  readonly url: string;
  readonly incidentChannel: string;
  readonly approvers: readonly string[];
  /** Whether approval cards @-mention the approvers. */
  readonly mentionApprovers: boolean;
  readonly maxDestructiveRuns: number;
  readonly thresholds?: ThresholdsConfig;
  /** File and target policy merged per environment and per key (target wins); for display and debugging. */
  readonly policy: PolicyConfig;
  /** What this target's plans need, resolved once at load; read it through src/approvals/policy.ts. */
  readonly effective: EffectivePolicy;
  readonly protectedApps: readonly string[];
  readonly protectedUsers: readonly string[];
  readonly maxSessions: number;
  /** Size of the bot's session pool on this target, per bot process (default 3). */
  readonly maxBotSessions: number;
  readonly aws?: { region: string; instance?: string; cluster?: string; roleArn?: string };
  readonly azure?: { subscription: string; resourceGroup: string; server: string };
  /** Snapshot/dump store and retention (src/providers/types.ts BackupsConfig); scratchUrl resolved like url. */
  readonly backups?: BackupsConfig;
  /** Restore validation: columns (`schema.table.column`) whose max must be ≤ the restore point. */
  readonly freshness?: readonly string[];
  /** Cloud restores: URL template for a restored instance ({instance}, {host}, {port}); `${VAR}`s resolved, a secret. */
  readonly instanceUrl?: string;
  /** Cloud restores: overrides of what is copied from the source. */
  readonly restore?: { subnetGroup?: string; securityGroups?: string[]; parameterGroup?: string; instanceClass?: string };
}

export interface TargetsConfig {
  readonly incidentChannel: string;
  readonly approvers: readonly string[];
  readonly policy: PolicyConfig;
  /** Optional channel id → name map (used by the sandbox to name channels). */
  readonly channels: Readonly<Record<string, string>>;
  readonly targets: ReadonlyMap<string, Target>;
}

/** An empty variable (`FOO=` in a .env file) means "not set". */
const unsetIfEmpty = (v: unknown) => (v === '' ? undefined : v);

const envSchema = z.object({
  SLACK_BOT_TOKEN: z.string().optional(),
  SLACK_SIGNING_SECRET: z.string().optional(),
  SLACK_APP_TOKEN: z.string().regex(/^xapp-/, 'must start with xapp-').optional(),
  SLACK_API_URL: z.string().url().optional(),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  // One server, Sentinel or Cluster (src/redis-url.ts); kept as text, parsed again where clients open.
  REDIS_URL: z.string().default('redis://127.0.0.1:6379').superRefine((v, ctx) => {
    const r = redisUrlSchema.safeParse(v);
    if (!r.success) for (const i of r.error.issues) ctx.addIssue({ code: 'custom', message: i.message });
  }),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').default('postgres://127.0.0.1:5432/dbops'),
  DBOPS_TARGETS: z.string().default('./dbops.targets.yaml'),
  DBOPS_QUEUE_PREFIX: z.string().default('dbops'),
  DBOPS_CREATE_DATABASE: z.enum(['true', 'false']).default('true'),
  /** Requests per user per window, e.g. 20/60s; 0/60s turns the limit off. */
  DBOPS_RATE_LIMIT: z
    .string()
    .regex(/^\d{1,6}\/\d{1,6}[smh]$/, 'must look like 20/60s (requests / window in s, m or h)')
    .default('20/60s'),
  DBOPS_MAX_PENDING_APPROVALS: z.coerce.number().int().min(1).max(1000).default(5),
  /** Bearer token GET /metrics requires; without it (and without DBOPS_METRICS_PORT) /metrics is not served. */
  DBOPS_METRICS_TOKEN: z.preprocess(unsetIfEmpty, z.string().min(16, 'must be at least 16 characters').optional()),
  DBOPS_METRICS_PORT: z.preprocess(unsetIfEmpty, z.coerce.number().int().min(0).max(65535).optional()),
  /** Queue dashboard (/admin/queues): a token and/or basic-auth credentials; with none it is not served. */
  DBOPS_ADMIN_TOKEN: z.preprocess(unsetIfEmpty, z.string().min(16, 'must be at least 16 characters').optional()),
  DBOPS_ADMIN_USER: z.preprocess(unsetIfEmpty, z.string().regex(/^[^:]+$/, 'must not contain ":"').optional()),
  DBOPS_ADMIN_PASSWORD: z.preprocess(unsetIfEmpty, z.string().min(12, 'must be at least 12 characters').optional()),
  DBOPS_ADMIN_WRITE: z.enum(['true', 'false']).default('false'),
});

export interface AppConfig {
  readonly slackBotToken: string;
  readonly slackSigningSecret?: string;
  readonly slackAppToken?: string;
  readonly slackApiUrl?: string;
  readonly port: number;
  readonly redisUrl: string;
  readonly databaseUrl: string;
  readonly targetsPath: string;
  readonly queuePrefix: string;
  readonly createDatabase: boolean;
  /** Per-user request limit: at most `max` requests per `windowMs` (max 0: no limit). */
  readonly rateLimit: { readonly max: number; readonly windowMs: number };
  readonly maxPendingApprovals: number;
  readonly metricsToken?: string;
  readonly metricsPort?: number;
  /** Bull Board at /admin/queues; absent when no credentials are set. Read-only unless write. */
  readonly admin?: { readonly token?: string; readonly user?: string; readonly password?: string; readonly write: boolean };
  readonly targets: TargetsConfig;
}

/** Per environment and per key: the target's settings win, nothing of the file's is dropped. */
function mergePolicy(file: PolicyConfig, own: PolicyConfig): PolicyConfig {
  const environments: Record<string, EnvPolicyConfig> = { ...file.environments };
  for (const [env, p] of Object.entries(own.environments ?? {})) environments[env] = mergeEnv(file.environments?.[env], p);
  const expiryMinutes = own.expiryMinutes ?? file.expiryMinutes;
  return { ...mergeEnv(file, own), ...(expiryMinutes !== undefined ? { expiryMinutes } : {}), environments };
}

function mergeEnv(base: EnvPolicyConfig | undefined, over: EnvPolicyConfig): EnvPolicyConfig {
  const split = (a: EnvPolicyConfig['approvals']) => (typeof a === 'number' ? { change: a, destructive: a } : a);
  const approvals = base?.approvals === undefined && over.approvals === undefined ? undefined : { ...split(base?.approvals), ...split(over.approvals) };
  const out: EnvPolicyConfig = {};
  const change = over.change ?? base?.change;
  const announce = over.announce ?? base?.announce;
  if (change !== undefined) out.change = change;
  if (approvals) out.approvals = approvals;
  if (announce !== undefined) out.announce = announce;
  return out;
}

function zodProblems(prefix: string, err: z.ZodError): string[] {
  return err.issues.map((i) => `${prefix}${i.path.length ? i.path.join('.') + ': ' : ''}${i.message}`);
}

/** `${VAR}` references are read from env; a missing variable is a config problem. */
function expandEnv(value: string, env: NodeJS.ProcessEnv, where: string, problems: string[]): string {
  return value.replace(/\$\{([A-Z_][A-Z0-9_]*)\}/g, (_m, name: string) => {
    const v = env[name];
    if (v === undefined || v === '') {
      problems.push(`${where}: environment variable ${name} is not set`);
      return '';
    }
    return v;
  });
}

export function loadTargets(path: string, env: NodeJS.ProcessEnv = process.env): TargetsConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError([`DBOPS_TARGETS: cannot read targets file ${path} (set DBOPS_TARGETS to its path)`]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new ConfigError([`${path}: not valid YAML (${String((e as Error).message).split('\n')[0]})`]);
  }
  const parsed = targetsFileSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(zodProblems(`${path}: `, parsed.error));
  const problems: string[] = [];
  const file = parsed.data;
  const targets = new Map<string, Target>();
  for (const [name, t] of Object.entries(file.targets)) {
    const url = expandEnv(t.url, env, `${path}: targets.${name}.url`, problems);
    if (url && !/^postgres(ql)?:\/\//.test(url)) problems.push(`${path}: targets.${name}.url must resolve to a postgres:// URL`);
    if (t.engine === 'aws-rds' && !t.aws?.instance) problems.push(`${path}: targets.${name}: engine aws-rds needs aws.instance`);
    if (t.engine === 'aws-aurora' && !t.aws?.cluster) problems.push(`${path}: targets.${name}: engine aws-aurora needs aws.cluster`);
    if (t.engine === 'azure-flexible' && !t.azure) problems.push(`${path}: targets.${name}: engine azure-flexible needs azure.{subscription,resourceGroup,server}`);
    registerSecret(url);
    let backups: BackupsConfig | undefined;
    if (t.backups) {
      const { scratchUrl: rawScratch, ...rest } = t.backups;
      const scratchUrl = rawScratch === undefined ? undefined : expandEnv(rawScratch, env, `${path}: targets.${name}.backups.scratchUrl`, problems);
      if (scratchUrl && !/^postgres(ql)?:\/\//.test(scratchUrl)) problems.push(`${path}: targets.${name}.backups.scratchUrl must resolve to a postgres:// URL`);
      registerSecret(scratchUrl);
      backups = { ...rest, ...(scratchUrl ? { scratchUrl } : {}) };
    }
    const instanceUrl = t.instanceUrl === undefined ? undefined : expandEnv(t.instanceUrl, env, `${path}: targets.${name}.instanceUrl`, problems);
    if (instanceUrl && !/^postgres(ql)?:\/\//.test(instanceUrl)) problems.push(`${path}: targets.${name}.instanceUrl must resolve to a postgres:// URL template`);
    registerSecret(instanceUrl);
    targets.set(name, {
      name,
      environment: t.environment,
      engine: t.engine,
      url,
      incidentChannel: t.incidentChannel ?? file.incidentChannel,
      approvers: t.approvers ?? file.approvers,
      mentionApprovers: t.mentionApprovers ?? file.mentionApprovers ?? true,
      maxDestructiveRuns: t.maxDestructiveRuns ?? 1,
      ...(t.thresholds ? { thresholds: t.thresholds } : {}),
      policy: mergePolicy(file.policy ?? {}, t.policy ?? {}),
      effective: resolvePolicy(file.policy ?? {}, t.policy ?? {}, t.environment),
      protectedApps: t.protected?.apps ?? [],
      protectedUsers: t.protected?.users ?? [],
      maxSessions: t.maxSessions ?? 500,
      maxBotSessions: t.maxBotSessions ?? 3,
      ...(t.aws ? { aws: t.aws } : {}),
      ...(t.azure ? { azure: t.azure } : {}),
      ...(backups ? { backups } : {}),
      ...(t.freshness ? { freshness: t.freshness } : {}),
      ...(instanceUrl ? { instanceUrl } : {}),
      ...(t.restore ? { restore: t.restore } : {}),
    });
  }
  if (problems.length) throw new ConfigError(problems);
  return { incidentChannel: file.incidentChannel, approvers: file.approvers, policy: file.policy ?? {}, channels: file.channels ?? {}, targets };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, opts: { sandbox?: boolean } = {}): AppConfig {
  const parsed = envSchema.safeParse(env);
  const problems: string[] = parsed.success ? [] : zodProblems('', parsed.error);
  const e = parsed.success ? parsed.data : undefined;
  // The sandbox talks to a local fake Slack, so it needs no real bot token (it still signs requests).
  if (!opts.sandbox && !env.SLACK_BOT_TOKEN) problems.push('SLACK_BOT_TOKEN: required (the bot token, xoxb-…)');
  if (!env.SLACK_APP_TOKEN && !env.SLACK_SIGNING_SECRET) problems.push('SLACK_SIGNING_SECRET: required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)');
  let targets: TargetsConfig | undefined;
  try {
    targets = loadTargets(env.DBOPS_TARGETS || './dbops.targets.yaml', env);
  } catch (err) {
    if (err instanceof ConfigError) problems.push(...err.problems);
    else throw err;
  }
  if (e && (e.DBOPS_ADMIN_USER === undefined) !== (e.DBOPS_ADMIN_PASSWORD === undefined)) problems.push('DBOPS_ADMIN_USER and DBOPS_ADMIN_PASSWORD: set both or neither');
  if (problems.length || !e || !targets) throw new ConfigError(problems);
  for (const s of [env.SLACK_BOT_TOKEN, env.SLACK_SIGNING_SECRET, env.SLACK_APP_TOKEN, e.DATABASE_URL, e.REDIS_URL, e.DBOPS_METRICS_TOKEN, e.DBOPS_ADMIN_TOKEN, e.DBOPS_ADMIN_PASSWORD]) registerSecret(s);
  const redis = parseRedisUrl(e.REDIS_URL);
  // Sentinel/Cluster URLs do not parse as WHATWG URLs, so their passwords are registered here.
  for (const s of [redis.password, redis.kind === 'sentinel' ? redis.sentinelPassword : undefined]) registerSecret(s);
  const adminAuth = { ...(e.DBOPS_ADMIN_TOKEN ? { token: e.DBOPS_ADMIN_TOKEN } : {}), ...(e.DBOPS_ADMIN_USER && e.DBOPS_ADMIN_PASSWORD ? { user: e.DBOPS_ADMIN_USER, password: e.DBOPS_ADMIN_PASSWORD } : {}) };
  const [rlMax, rlWindow] = e.DBOPS_RATE_LIMIT.split('/') as [string, string];
  return {
    slackBotToken: env.SLACK_BOT_TOKEN ?? 'xoxb-sandbox',
    ...(env.SLACK_SIGNING_SECRET ? { slackSigningSecret: env.SLACK_SIGNING_SECRET } : {}),
    ...(env.SLACK_APP_TOKEN ? { slackAppToken: env.SLACK_APP_TOKEN } : {}),
    ...(e.SLACK_API_URL ? { slackApiUrl: e.SLACK_API_URL } : {}),
    port: e.PORT,
    redisUrl: e.REDIS_URL,
    databaseUrl: e.DATABASE_URL,
    targetsPath: e.DBOPS_TARGETS,
    // On a Cluster, BullMQ needs every key of a queue in one slot: `{prefix}` (src/redis-url.ts).
    queuePrefix: clusterSafePrefix(e.DBOPS_QUEUE_PREFIX, redis),
    createDatabase: e.DBOPS_CREATE_DATABASE === 'true',
    rateLimit: { max: Number(rlMax), windowMs: parseDuration(rlWindow) * 1000 },
    maxPendingApprovals: e.DBOPS_MAX_PENDING_APPROVALS,
    ...(e.DBOPS_METRICS_TOKEN ? { metricsToken: e.DBOPS_METRICS_TOKEN } : {}),
    ...(e.DBOPS_METRICS_PORT !== undefined ? { metricsPort: e.DBOPS_METRICS_PORT } : {}),
    ...(Object.keys(adminAuth).length ? { admin: { ...adminAuth, write: e.DBOPS_ADMIN_WRITE === 'true' } } : {}),
    targets,
  };
}
