import type { Context, RespondFn, SlashCommand } from '@slack/bolt';
import { parseCommand, type Command } from '../commands/parse.js';
import { helpMessage, targetsMessage, verbHelpMessage } from '../commands/help.js';
import { DbopsError, userMessageOf } from '../errors.js';
import { listDrillsMessage, removeDrill, scheduleDrill } from '../jobs/drill-commands.js';
import { offerAbort } from '../jobs/abort.js';
import { submitRequest } from '../jobs/request.js';
import { resumeRun } from '../jobs/resume.js';
import { ephemeralAck } from '../slack/ack-body.js';
import { section } from '../slack/blocks.js';
import { auditMessage, auditVerifyMessage, errorMessage, runDetailMessage, runsMessage, userError } from '../slack/messages.js';
import { slackUserId } from '../slack/metadata.js';
import { listAudit, verifyAudit } from '../store/audit.js';
import { listApprovals } from '../store/approvals.js';
import { getRun, listRuns, listSteps } from '../store/runs.js';
import type { Logger } from '../log.js';
import type { HandlerDeps } from './deps.js';
import { openModalFor } from './modals.js';
import { respondError, respondWith } from './reply.js';
import { replayedElsewhere } from './replay-gate.js';
import type { Routes } from './routes.js';

/**
 * `/db`: parsing is pure and fast, so help and input errors are answered in the ack itself;
 * anything touching a database happens after ack() and is answered through response_url.
 */
export function registerCommand(routes: Routes, deps: HandlerDeps): void {
  routes.command('/db', async ({ ack, command, respond, context }) => {
    const who = { user: command.user_id, channel: command.channel_id };
    // Requests come from people: a user-group or bot id in user_id is refused before anything else.
    if (!slackUserId.safeParse(command.user_id).success) {
      const m = userError('Only a Slack user (U… or W… id) can use /db.');
      await ack(ephemeralAck(context, m));
      return;
    }
    let cmd: Command;
    try {
      cmd = parseCommand(command.text ?? '', deps.registry, deps.targets);
    } catch (err) {
      if (!(err instanceof DbopsError)) deps.log.error({ ...who, err: (err as Error).message }, 'parse failed');
      const m = userError(userMessageOf(err));
      await ack(ephemeralAck(context, m));
      return;
    }
    if (cmd.kind === 'help') {
      const m = cmd.verb ? verbHelpMessage(deps.registry, cmd.verb, deps.targets) : helpMessage(deps.registry, deps.targets);
      await ack(ephemeralAck(context, m));
      return;
    }
    if (cmd.kind === 'targets') {
      const m = targetsMessage(deps.targets);
      await ack(ephemeralAck(context, m));
      return;
    }
    // Past the answers given in the ack, where logging may happen: a child logger only from here.
    const log = deps.log.child(who);
    // A verb without its target, or with arguments missing: the form asks for them (same grammar on submit).
    if (cmd.kind === 'form' || (cmd.kind === 'runbook' && cmd.missing.length)) {
      await ack();
      if (await replayedElsewhere(context, log)) return;
      try {
        await openModalFor(deps, cmd, command.trigger_id, command.channel_id, command.user_id);
      } catch (err) {
        await respondError(respond, log, err);
      }
      return;
    }
    await ack();
    // The rest waits its turn (after-ack.ts): a burst of commands must not delay the acks still to come.
    await deps.afterAck.run(() => answerAfterAck(deps, cmd, command, respond, context, log));
  });
}

async function answerAfterAck(deps: HandlerDeps, cmd: Command, command: SlashCommand, respond: RespondFn, context: Context, log: Logger): Promise<void> {
  if (await replayedElsewhere(context, log)) return;
  try {
    switch (cmd.kind) {
      case 'runs':
        return await respondWith(respond, runsMessage(await listRuns(deps.pool, cmd.target ? { target: cmd.target } : {}), cmd.target));
      case 'run': {
        if (cmd.action === 'resume') return await respondWith(respond, await resumeRun(deps, cmd.id, command.user_id), 'ephemeral', log);
        if (cmd.action === 'abort') return await respondWith(respond, await offerAbort(deps, cmd.id, command.user_id), 'ephemeral', log);
        const run = await getRun(deps.pool, cmd.id);
        if (!run) return await respondWith(respond, errorMessage(`No run \`${cmd.id}\`. See \`/db runs\` for recent ones.`));
        const link = run.threadChannel && run.threadTs ? await deps.permalink(run.threadChannel, run.threadTs) : undefined;
        const detail = runDetailMessage(run, await listSteps(deps.pool, run.id), await listApprovals(deps.pool, run.id), link);
        // A failed run says how to go on from here (the run id is ours, nothing user-typed).
        if (run.state === 'failed' && !run.checkpoint.aborted) {
          const abortable = deps.registry.get(run.runbook)?.abort ? ` · remove what it created: \`/db run ${run.id} abort\`` : '';
          detail.blocks.push(section(`Continue at the failed step: \`/db run ${run.id} resume\`${abortable}`));
        }
        return await respondWith(respond, detail);
      }
      case 'audit':
        if (cmd.verify) return await respondWith(respond, auditVerifyMessage(await verifyAudit(deps.pool)));
        return await respondWith(respond, auditMessage(await listAudit(deps.pool, { ...(cmd.target ? { target: cmd.target } : {}), sinceSeconds: cmd.sinceSeconds }), `${cmd.target ? `for ${cmd.target} ` : ''}(last ${Math.round(cmd.sinceSeconds / 3600) || 1}h)`));
      case 'drills':
        return await respondWith(respond, await listDrillsMessage(deps.pool));
      case 'drill':
        return await respondWith(
          respond,
          cmd.off ? await removeDrill(deps.pool, cmd.target, command.user_id, command.channel_id) : await scheduleDrill(deps.pool, cmd.target, cmd.everySeconds!, command.user_id, command.channel_id),
        );
      case 'runbook': {
        const reply = await submitRequest(deps, { runbook: cmd.runbook, target: cmd.target, args: cmd.args, requester: command.user_id, channel: command.channel_id, ...(cmd.reason ? { reason: cmd.reason } : {}) });
        return await respondWith(respond, reply.message, reply.visibility, log);
      }
    }
  } catch (err) {
    await respondError(respond, log, err, { text: command.text?.slice(0, 200) });
  }
}
