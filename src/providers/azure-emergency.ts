/**
 * Failover and backup retention on Azure Flexible Server: `servers.beginRestart` with
 * `restartWithFailover` (the standby becomes the primary) and `servers.beginUpdate` with
 * `backup.backupRetentionDays`. Both are LROs: the poller's serialised state is the checkpoint and
 * each look re-attaches with `resumeFrom`, so no request is sent twice.
 */
import type { PostgreSQLManagementFlexibleServerClient, Server } from '@azure/arm-postgresql-flexible';
import { azureError } from './azure-errors.js';
import type { FailoverRequest, OperationCheckpoint, OperationPoll, Topology } from './emergency.js';
import { retentionProblem } from './emergency-limits.js';
import { ProviderError } from './errors.js';

export interface AzureOps {
  readonly client: PostgreSQLManagementFlexibleServerClient;
  readonly resourceGroup: string;
  readonly server: string;
  readonly pollIntervalMs: number;
}

const ENGINE = 'azure-flexible' as const;
const whatOf = (o: AzureOps) => `flexible server ${o.server}`;

async function getServer(o: AzureOps): Promise<Server> {
  try {
    return await o.client.servers.get(o.resourceGroup, o.server);
  } catch (err) {
    throw azureError(whatOf(o), err);
  }
}

function topologyOf(o: AzureOps, s: Server): Topology {
  const ha = s.highAvailability;
  const mode = ha?.mode ?? 'Disabled';
  const status = s.state ?? 'unknown';
  const haOn = mode !== 'Disabled';
  return {
    status: haOn && ha?.state ? `${status}, HA ${ha.state}` : status,
    // A failover needs the standby in sync: Ready alone is not enough while the standby is being built.
    available: status === 'Ready' && (!haOn || ha?.state === undefined || ha.state === 'Healthy'),
    writer: o.server,
    ...(s.availabilityZone ? { zone: s.availabilityZone } : {}),
    members: [
      { id: o.server, role: 'writer', ...(s.availabilityZone ? { zone: s.availabilityZone } : {}), status },
      ...(haOn ? [{ id: `${o.server} (standby)`, role: 'standby' as const, ...(ha?.standbyAvailabilityZone ? { zone: ha.standbyAvailabilityZone } : {}), ...(ha?.state ? { status: ha.state } : {}) }] : []),
    ],
    ...(haOn ? {} : { cannotFailover: `${whatOf(o)} has high availability disabled: there is no standby to fail over to. Enable zone-redundant or same-zone HA on the server first.` }),
  };
}

export async function azureTopology(o: AzureOps): Promise<Topology> {
  return topologyOf(o, await getServer(o));
}

export async function startAzureFailover(o: AzureOps, req: FailoverRequest, before: Topology): Promise<OperationCheckpoint> {
  try {
    const poller = await o.client.servers.beginRestart(o.resourceGroup, o.server, {
      parameters: { restartWithFailover: true, failoverMode: req.forced ? 'ForcedFailover' : 'PlannedFailover' },
      updateIntervalInMs: o.pollIntervalMs,
    });
    return { engine: ENGINE, kind: 'failover', poller: poller.toString(), before: { writer: o.server, ...(before.zone ? { zone: before.zone } : {}) } };
  } catch (err) {
    throw azureError(whatOf(o), err);
  }
}

export async function startAzureRetention(o: AzureOps, days: number): Promise<OperationCheckpoint> {
  const problem = retentionProblem(ENGINE, days);
  if (problem) throw new ProviderError(ENGINE, 'failed', `Not a valid retention: ${problem}.`);
  try {
    const poller = await o.client.servers.beginUpdate(o.resourceGroup, o.server, { backup: { backupRetentionDays: days } }, { updateIntervalInMs: o.pollIntervalMs });
    return { engine: ENGINE, kind: 'retention', poller: poller.toString(), want: { days } };
  } catch (err) {
    throw azureError(whatOf(o), err);
  }
}

/** One look at the restart or update operation; when it is done, the server as it is now. */
export async function pollAzureOperation(o: AzureOps, cp: OperationCheckpoint): Promise<OperationPoll> {
  if (cp.kind === 'scale') throw new ProviderError(ENGINE, 'unsupported', 'Serverless scaling is not on azure-flexible.');
  let done = true;
  let poller = cp.poller;
  if (cp.poller) {
    try {
      // resumeFrom re-attaches without resending the POST/PATCH; the call polls the operation once.
      const p =
        cp.kind === 'failover'
          ? await o.client.servers.beginRestart(o.resourceGroup, o.server, { resumeFrom: cp.poller, updateIntervalInMs: o.pollIntervalMs })
          : await o.client.servers.beginUpdate(o.resourceGroup, o.server, {}, { resumeFrom: cp.poller, updateIntervalInMs: o.pollIntervalMs });
      done = p.isDone();
      poller = p.toString();
    } catch (err) {
      throw azureError(whatOf(o), err);
    }
  }
  const next: OperationCheckpoint = { ...cp, ...(poller ? { poller } : {}) };
  if (!done) return { done: false, progress: { message: cp.kind === 'failover' ? 'restarting with failover' : 'updating the server' }, checkpoint: next };
  const server = await getServer(o);
  const t = topologyOf(o, server);
  if (cp.kind === 'retention') {
    const days = server.backup?.backupRetentionDays;
    // The operation succeeded: a different value now means someone else changed it meanwhile.
    if (days !== cp.want?.days) throw new ProviderError(ENGINE, 'failed', `Azure finished the update of ${whatOf(o)}, but it now reports a backup retention of ${days ?? 'unknown'} days instead of ${cp.want?.days}. Check the server's activity log.`);
    return { done: true, progress: { message: `${t.status}, retention ${days} days` }, checkpoint: next };
  }
  return { done: true, progress: { message: `${t.status}, primary in zone ${t.zone ?? '?'}` }, checkpoint: next, topology: t };
}
