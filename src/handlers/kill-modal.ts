import type { BlockAction } from '@slack/bolt';
import type { Routes } from './routes.js';
import { validateArgs } from '../commands/parse.js';
import { userMessageOf } from '../errors.js';
import { sessionFor } from '../postgres/session.js';
import { captureSessions } from '../runbooks/capture.js';
import { sessionTable } from '../runbooks/session-render.js';
import { esc } from '../slack/blocks.js';
import { KILL_PREVIEW_ACTION, killModal, killStateFrom, readKillModal, type KillModalState } from '../slack/kill-modal.js';
import type { StateValues } from '../slack/views.js';
import type { HandlerDeps } from './deps.js';
import { customModals, prefillTarget } from './modals.js';
import { LatestWins, TtlCache } from './preview-cache.js';

/** Same inputs within this long → the cached preview (the count is "right now" to within ~2 s). */
const PREVIEW_TTL_MS = 2_000;
/** Keystrokes closer together than this produce one preview (the newest). */
const PREVIEW_DEBOUNCE_MS = 300;
const cache = new TtlCache<string>(PREVIEW_TTL_MS);
const latest = new LatestWins();

/** "How many sessions match right now": cached per target and filter, concurrent asks share one query. */
function preview(deps: HandlerDeps, s: KillModalState): Promise<string> {
  const key = JSON.stringify([s.target, s.selector, s.pids, s.olderThan, s.app, s.user, s.database, !!s.includeSuperusers]);
  return cache.get(key, () => computePreview(deps, s));
}

/** Computed with the same capture the plan uses, on a read session of the target's pool. */
async function computePreview(deps: HandlerDeps, s: KillModalState): Promise<string> {
  const target = s.target ? deps.targets.targets.get(s.target) : undefined;
  if (!target) return '_Choose a target to see how many sessions match._';
  const kill = deps.registry.get('kill')!;
  const { raw, errors } = readKillModal({
    'arg:selector': { v: { type: 'static_select', selected_option: s.selector ? { value: s.selector } : null } },
    'arg:pids': { v: { type: 'plain_text_input', value: s.pids ?? null } },
    'arg:older-than': { v: { type: 'plain_text_input', value: s.olderThan ?? null } },
    'arg:app': { v: { type: 'plain_text_input', value: s.app ?? null } },
    'arg:user': { v: { type: 'plain_text_input', value: s.user ?? null } },
    'arg:database': { v: { type: 'plain_text_input', value: s.database ?? null } },
    ...(s.includeSuperusers ? { 'flags:bool': { v: { type: 'checkboxes', selected_options: [{ value: 'include-superusers' }] } } } : {}),
  } as StateValues, kill);
  const firstError = Object.values(errors)[0];
  if (firstError) return `_${esc(firstError)}_`;
  try {
    const args = validateArgs(kill, raw) as Parameters<typeof captureSessions>[2];
    const cap = await sessionFor(target, { statementTimeoutMs: 3000, use: 'read' })((c) => captureSessions(c, target, args));
    const n = cap.sessions.length;
    return `*Matching now: ${n} session${n === 1 ? '' : 's'}*${n ? `\n\`\`\`${esc(sessionTable(cap.sessions, 8))}\`\`\`` : ''}${cap.notEligible.length ? `\n_Not found or protected: ${cap.notEligible.slice(0, 10).join(', ')}_` : ''}`;
  } catch (err) {
    return `_${esc(userMessageOf(err))}_`;
  }
}

export function registerKillModal(routes: Routes, deps: HandlerDeps): void {
  customModals.set('kill', async (d, cmd, meta) => {
    const target = prefillTarget(cmd);
    const flag = (name: string) => (typeof cmd.raw[name] === 'string' ? (cmd.raw[name] as string) : undefined);
    // Flags typed before the form opened are kept (`/db kill --app web` → the app field is filled).
    const typed = { app: flag('app'), user: flag('user'), database: flag('database') };
    const s: KillModalState = { ...(target ? { target } : {}), ...Object.fromEntries(Object.entries(typed).filter(([, v]) => v)), ...(cmd.raw['include-superusers'] === true ? { includeSuperusers: true } : {}), ...(cmd.reason ? { reason: cmd.reason } : {}) };
    return killModal(d.targets, s, meta, await preview(d, s));
  });

  routes.action<BlockAction>(KILL_PREVIEW_ACTION, async ({ ack, body }) => {
    await ack();
    const view = body.view;
    if (!view) return;
    const s = killStateFrom(view.state.values as StateValues);
    // Per view, latest wins: a keystroke superseded during the debounce or the query updates nothing.
    const turn = await latest.settle(view.id, PREVIEW_DEBOUNCE_MS);
    try {
      if (!turn.current()) return;
      const text = await preview(deps, s);
      if (!turn.current()) return;
      // The sealed metadata travels on unchanged; the submission verifies it.
      await deps.client.views.update({ view_id: view.id, hash: view.hash, view: killModal(deps.targets, s, view.private_metadata, text) as never });
    } catch (err) {
      // hash_conflict: a newer keystroke already updated the view; that update carries the newer preview.
      deps.log.debug({ err: (err as Error).message }, 'kill preview update skipped');
    } finally {
      turn.done();
    }
  });
}
