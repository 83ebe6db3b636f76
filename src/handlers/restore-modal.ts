import type { BlockAction } from '@slack/bolt';
import type { Routes } from './routes.js';
import type { Target } from '../config.js';
import { userMessageOf } from '../errors.js';
import { ENGINE_CAPABILITIES } from '../providers/capabilities.js';
import { databaseOf } from '../postgres/rename.js';
import { checkedProvider } from '../runbooks/providers.js';
import { defaultRestoreName } from '../runbooks/restore.js';
import { cloudSource, defaultCloudName, isCloud } from '../runbooks/restore-cloud.js';
import { RESTORE_REFRESH_ACTION, restoreModal, restoreStateFrom, type RestoreModalState, type RestoreTargetView } from '../slack/restore-modal.js';
import type { StateValues } from '../slack/views.js';
import type { HandlerDeps } from './deps.js';
import { customModals, prefillTarget } from './modals.js';
import { LatestWins, TtlCache } from './preview-cache.js';

/** A target's snapshot list and window, shared by the modal's opening and its refreshes for a while. */
const LIST_TTL_MS = 15_000;
/**
 * views.open must happen within Slack's 3 s trigger window (the slash command was acked already):
 * a slower list opens the modal saying so, and choosing the target again shows it (it keeps loading, cached).
 */
const OPEN_BUDGET_MS = 1_800;
const cache = new TtlCache<Omit<RestoreTargetView, 'proposedName'>>(LIST_TTL_MS);
const latest = new LatestWins();

function load(target: Target): Promise<Omit<RestoreTargetView, 'proposedName'>> {
  return cache.get(target.name, async () => {
    try {
      // The same refusal the request would give ("not on azure-flexible: …"), before anything is listed.
      checkedProvider(target, 'restore', '/db restore');
      const p = checkedProvider(target, 'list', '/db restore');
      const [snapshots, window] = await Promise.all([p.listSnapshots({ limit: 100 }), p.restorableWindow().catch(() => undefined)]);
      return { engine: target.engine, snapshots, ...(window ? { window } : {}), pitr: ENGINE_CAPABILITIES[target.engine].has('pitr') };
    } catch (err) {
      return { engine: target.engine, snapshots: [], pitr: false, problem: userMessageOf(err) };
    }
  });
}

/** The name the restore itself would choose for the snapshot (selected, else the newest listed). */
function withProposal(target: Target, v: Omit<RestoreTargetView, 'proposedName'>, s: RestoreModalState): RestoreTargetView {
  if (isCloud(target)) {
    // A point in time given wins over the snapshot list (the restore itself reads it the same way).
    const label = s.toTime && !s.snapshot ? `time ${new Date(s.toTime).toISOString().replace(/\.000Z$/, 'Z')}` : (s.snapshot ?? v.snapshots.find((x) => x.status === 'available')?.id);
    if (!label || (s.toTime && Number.isNaN(Date.parse(s.toTime)))) return v;
    try {
      return { ...v, proposedName: defaultCloudName(target.engine, cloudSource(target), label.startsWith('time ') ? label : `snapshot ${label}`) };
    } catch {
      return v;
    }
  }
  const snap = s.snapshot ?? v.snapshots.find((x) => x.status === 'available')?.id;
  return snap ? { ...v, proposedName: defaultRestoreName(databaseOf(target.url), snap) } : v;
}

async function viewFor(deps: HandlerDeps, s: RestoreModalState, budgetMs: number): Promise<RestoreTargetView | undefined> {
  const target = s.target ? deps.targets.targets.get(s.target) : undefined;
  if (!target) return undefined;
  const slow = new Promise<'slow'>((r) => setTimeout(() => r('slow'), budgetMs).unref());
  const v = await Promise.race([load(target), slow]);
  if (v === 'slow') return { engine: target.engine, snapshots: [], pitr: false, problem: `Listing the snapshots of ${target.name} is taking a while. Choose the target again in a moment to see them.` };
  return withProposal(target, v, s);
}

export function registerRestoreModal(routes: Routes, deps: HandlerDeps): void {
  customModals.set('restore', async (d, cmd, meta) => {
    const str = (k: string) => (typeof cmd.raw[k] === 'string' ? (cmd.raw[k] as string) : undefined);
    const target = prefillTarget(cmd);
    // Flags typed before the form opened are kept (`/db restore orders --as orders_fix` fills the name).
    const extra = Object.fromEntries(Object.entries(cmd.raw).filter(([k, v]) => typeof v === 'string' && !['snapshot', 'to-time', 'as'].includes(k))) as Record<string, string>;
    const s: RestoreModalState = { ...(target ? { target } : {}), extra };
    for (const [k, f] of [['snapshot', 'snapshot'], ['toTime', 'to-time'], ['as', 'as']] as const) if (str(f)) s[k] = str(f)!;
    if (cmd.reason) s.reason = cmd.reason;
    return restoreModal(cmd.runbook, d.targets, s, await viewFor(d, s, OPEN_BUDGET_MS), meta);
  });

  routes.action<BlockAction>(RESTORE_REFRESH_ACTION, async ({ ack, body }) => {
    await ack();
    const view = body.view;
    const rb = deps.registry.get('restore');
    if (!view || !rb) return;
    const s = restoreStateFrom(view.state.values as StateValues);
    const turn = await latest.settle(view.id, 150);
    try {
      if (!turn.current()) return;
      const t = await viewFor(deps, s, 10_000);
      if (!turn.current()) return;
      // The sealed metadata travels on unchanged; the submission verifies it.
      await deps.client.views.update({ view_id: view.id, hash: view.hash, view: restoreModal(rb, deps.targets, s, t, view.private_metadata) as never });
    } catch (err) {
      deps.log.debug({ err: (err as Error).message }, 'restore modal refresh skipped');
    } finally {
      turn.done();
    }
  });
}
