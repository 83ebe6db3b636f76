/**
 * `/db backup drill <target> --every D | --off` and `/db backup drills`: they only write and read
 * Postgres (the web role needs no scheduler); workers pick changes up on their next sync.
 */
import { requiredApprovals } from '../approvals/policy.js';
import type { Target } from '../config.js';
import { badInput } from '../errors.js';
import { verifyProvider } from '../runbooks/backup-verify.js';
import { esc } from '../slack/blocks.js';
import { drillsMessage, everyLabel } from '../slack/drill-messages.js';
import { infoMessage, type Message } from '../slack/messages.js';
import { audit } from '../store/audit.js';
import type { Pool } from '../store/db.js';
import { deleteDrill, listDrills, nextFiring, upsertDrill } from '../store/drills.js';

const HOUR = 3600;
const MAX_EVERY_S = 366 * 86400;

/**
 * A drill restores a whole dump: more often than hourly would mostly load the server. Tests and
 * sandboxes set DBOPS_ALLOW_SHORT_DRILLS=true to go down to 1 s.
 */
export function minDrillSeconds(env: NodeJS.ProcessEnv = process.env): number {
  return env.DBOPS_ALLOW_SHORT_DRILLS === 'true' ? 1 : HOUR;
}

const when = (d: Date) => `<!date^${Math.floor(d.getTime() / 1000)}^{date_short_pretty} {time}|${d.toISOString()}>`;

export async function scheduleDrill(pool: Pool, target: Target, everySeconds: number, user: string, channel: string, env: NodeJS.ProcessEnv = process.env): Promise<Message> {
  const min = minDrillSeconds(env);
  if (everySeconds < min) throw badInput(`\`--every\` must be at least ${everyLabel(min * 1000)}: each drill restores a whole backup.`);
  if (everySeconds > MAX_EVERY_S) throw badInput('`--every` can be at most 366d.');
  // Refused now rather than at every firing: the engine must verify and the target needs a backup store.
  verifyProvider(target);
  const everyMs = everySeconds * 1000;
  const d = await upsertDrill(pool, { target: target.name, everyMs, anchorAt: new Date(Date.now() + everyMs), createdBy: user });
  await audit(pool, { actor: user, action: 'drill_schedule', target: target.name, channel, outcome: 'scheduled', detail: { every: everyLabel(everyMs) } });
  const approvals = requiredApprovals(target, 'change');
  const policy = approvals
    ? `${target.environment}'s policy needs approval for changes, so each drill posts an approval card in <#${target.incidentChannel}> and runs once ${approvals > 1 ? `${approvals} people approve` : 'someone approves'}.`
    : `Each drill runs without approval (${esc(target.environment)}'s policy).`;
  return infoMessage(
    `:calendar: *Backup drill for \`${esc(target.name)}\`* every ${everyLabel(everyMs)}, next ${when(nextFiring(d))}. Each drill runs \`/db backup verify ${esc(target.name)}\` as dbops on the newest ${target.engine === 'self-hosted' ? 'dump (restored into a scratch database)' : 'snapshot (restored into a scratch instance, deleted afterwards)'}; results post in <#${target.incidentChannel}> and the audit log. ${policy} \`/db backup drill ${esc(target.name)} --off\` removes it.`,
  );
}

export async function removeDrill(pool: Pool, target: Target, user: string, channel: string): Promise<Message> {
  if (!(await deleteDrill(pool, target.name))) return infoMessage(`\`${esc(target.name)}\` has no backup drill. \`/db backup drills\` lists them.`);
  await audit(pool, { actor: user, action: 'drill_off', target: target.name, channel, outcome: 'removed' });
  return infoMessage(`:wastebasket: Backup drill for \`${esc(target.name)}\` removed. Runs already started finish normally.`);
}

export async function listDrillsMessage(pool: Pool): Promise<Message> {
  return drillsMessage(await listDrills(pool));
}
