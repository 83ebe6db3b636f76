/**
 * Point-in-time restore on Azure Flexible Server into a NEW server: `servers.beginCreateOrUpdate`
 * with `createMode: 'PointInTimeRestore'`. A "snapshot" here is an on-demand or automatic backup,
 * restored at its completed time (Azure restores a point in time, not a backup file). The LRO's
 * serialised poller is the checkpoint: each look re-attaches with `resumeFrom`, the PUT is sent once.
 * The new server is tagged with the run that owns it. A server cannot be renamed: the cutover reports
 * the connection-string change instead (no 'rename' capability).
 */
import type { Server } from '@azure/arm-postgresql-flexible';
import { azureError } from './azure-errors.js';
import type { AzureOps } from './azure-emergency.js';
import { ProviderError, isProviderError } from './errors.js';
import { SCRATCH_PREFIX, type Endpoint, type InstanceOpCheckpoint, type InstanceOpPoll, type InstanceRestoreCheck, type InstanceRestoreRequest, type ManagedInstance, type RestorableWindow, type ScratchDeleteLook, type Snapshot } from './provider.js';

export interface AzureRestoreOps extends AzureOps {
  readonly target: string;
}

const ENGINE = 'azure-flexible' as const;
/** Azure tag names may not contain `/` `\` `<` `>` `%` `&` `?`; a hyphen keeps them readable in the portal. */
export const AZURE_TAGS = { target: 'dbops-target', restore: 'dbops-restore-run' } as const;

/** Flexible server names: lower-case letters, digits and hyphens, 3–63, not starting or ending with a hyphen. */
export function azureNameProblem(name: string): string | undefined {
  return /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(name) ? undefined : `${name} is not a valid flexible server name (lower-case letters, digits and hyphens, 3–63, not starting or ending with a hyphen). Choose another --as.`;
}

const endpointOf = (s: Server): Endpoint | undefined => (s.fullyQualifiedDomainName ? { host: s.fullyQualifiedDomainName, port: 5432 } : undefined);

function fromServer(s: Server): ManagedInstance {
  const run = s.tags?.[AZURE_TAGS.restore];
  const ep = endpointOf(s);
  return { name: s.name ?? '', status: s.state ?? 'unknown', ...(run ? { restoreRun: run } : {}), ...(ep ? { endpoint: ep } : {}) };
}

async function rawServer(o: AzureOps, name: string): Promise<Server | undefined> {
  try {
    return await o.client.servers.get(o.resourceGroup, name);
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw azureError(`flexible server ${name}`, err);
  }
}

export async function describeAzureManaged(o: AzureOps, name: string): Promise<ManagedInstance | undefined> {
  const s = await rawServer(o, name);
  return s ? fromServer(s) : undefined;
}

export async function findAzureManaged(o: AzureOps, by: { restoreRun?: string }): Promise<ManagedInstance[]> {
  const out: ManagedInstance[] = [];
  try {
    for await (const s of o.client.servers.listByResourceGroup(o.resourceGroup)) out.push(fromServer(s));
  } catch (err) {
    throw azureError(`the flexible servers of resource group ${o.resourceGroup}`, err);
  }
  return out.filter((m) => by.restoreRun === undefined || m.restoreRun === by.restoreRun);
}

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Pre-checks; creates nothing. */
export async function checkAzureRestore(o: AzureRestoreOps, req: InstanceRestoreRequest): Promise<InstanceRestoreCheck> {
  const problems: string[] = [];
  const nameProblem = azureNameProblem(req.newName);
  if (nameProblem) problems.push(nameProblem);
  if (req.newName === o.server) problems.push(`${req.newName} is ${o.target}'s own server: a restore goes into a NEW one. Choose another --as.`);
  let src: Server;
  try {
    const s = await rawServer(o, o.server);
    if (!s) throw azureError(`flexible server ${o.server}`, { statusCode: 404, message: 'server not found' });
    src = s;
  } catch (err) {
    return { problems: [...problems, isProviderError(err) ? err.userMessage : `Could not read flexible server ${o.server}.`] };
  }
  const earliest = src.backup?.earliestRestoreDate;
  const retentionDays = src.backup?.backupRetentionDays;
  // Azure publishes no latest restorable time: a point-in-time restore reaches up to now.
  const window: RestorableWindow = { granularity: 'continuous', ...(earliest ? { earliest } : {}), ...(retentionDays !== undefined ? { retentionDays } : {}) };
  let restorePoint: Date | undefined;
  let snapshot: Snapshot | undefined;
  if (req.source.snapshotId !== undefined) {
    const id = req.source.snapshotId;
    try {
      const b = await o.client.backupsAutomaticAndOnDemand.get(o.resourceGroup, o.server, id);
      if (!b.completedTime) problems.push(`Backup ${id} of flexible server ${o.server} has not completed.`);
      else {
        restorePoint = b.completedTime;
        snapshot = { id, type: b.backupType === 'Customer On-Demand' ? 'manual' : 'automated', status: 'available', createdAt: b.completedTime };
      }
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) problems.push(`No backup ${id} of flexible server ${o.server}. See \`/db snapshots ${o.target}\` for the ones there are.`);
      else problems.push(azureError(`backup ${id} of flexible server ${o.server}`, err).userMessage);
    }
    if (restorePoint && earliest && restorePoint < earliest) problems.push(`Backup ${id} (${iso(restorePoint)}) is older than the earliest restorable time of flexible server ${o.server} (${iso(earliest)}).`);
  } else {
    const t = new Date(req.source.toTime);
    const now = new Date();
    if (!earliest) problems.push(`Azure reports no earliest restore time for flexible server ${o.server}. Restore from a backup instead.`);
    else if (t < earliest || t > now) problems.push(`${iso(t)} is outside the restorable window of flexible server ${o.server} (${iso(earliest)} → now). Choose a time inside it.`);
    else restorePoint = t;
  }
  let alreadyOurs = false;
  if (!nameProblem) {
    const existing = await describeAzureManaged(o, req.newName);
    alreadyOurs = existing?.restoreRun === req.owner;
    if (existing && !alreadyOurs) problems.push(`A flexible server named ${req.newName} already exists in resource group ${o.resourceGroup}. Choose another name with --as.`);
  }
  return { problems, window, ...(restorePoint ? { restorePoint } : {}), ...(snapshot ? { snapshot } : {}), ...(alreadyOurs ? { alreadyOurs } : {}) };
}

/** The restore's point in time: the backup's completed time, or the requested time. */
async function pointInTime(o: AzureOps, req: InstanceRestoreRequest): Promise<Date> {
  if (req.source.toTime !== undefined) return new Date(req.source.toTime);
  try {
    const b = await o.client.backupsAutomaticAndOnDemand.get(o.resourceGroup, o.server, req.source.snapshotId);
    if (b.completedTime) return b.completedTime;
  } catch (err) {
    throw azureError(`backup ${req.source.snapshotId} of flexible server ${o.server}`, err);
  }
  throw new ProviderError(ENGINE, 'wrong_state', `Backup ${req.source.snapshotId} of flexible server ${o.server} has not completed; nothing was created.`);
}

export async function startAzureRestore(o: AzureRestoreOps, req: InstanceRestoreRequest): Promise<InstanceOpCheckpoint> {
  const cp: InstanceOpCheckpoint = { engine: ENGINE, kind: 'restore', name: req.newName };
  // An earlier attempt's server (its poller lost with a crash before the checkpoint was saved): look at the server itself.
  const existing = await describeAzureManaged(o, req.newName);
  if (existing) {
    if (existing.restoreRun === req.owner) return { ...cp, alreadyStarted: true };
    throw new ProviderError(ENGINE, 'already_exists', `A flexible server named ${req.newName} exists and is not this run's: it was left alone and nothing was restored. Choose another --as.`);
  }
  const src = await rawServer(o, o.server);
  if (!src?.id || !src.location) throw azureError(`flexible server ${o.server}`, { statusCode: 404, message: 'source server not found' });
  const at = await pointInTime(o, req);
  try {
    const poller = await o.client.servers.beginCreateOrUpdate(
      o.resourceGroup,
      req.newName,
      { location: src.location, createMode: 'PointInTimeRestore', sourceServerResourceId: src.id, pointInTimeUTC: at, tags: { [AZURE_TAGS.target]: o.target, [AZURE_TAGS.restore]: req.owner } },
      { updateIntervalInMs: o.pollIntervalMs },
    );
    return { ...cp, poller: poller.toString() };
  } catch (err) {
    throw azureError(`the restore of flexible server ${o.server} into ${req.newName}`, err);
  }
}

/** One look: re-attach to the LRO (resumeFrom sends no second PUT; the SDK polls the operation once). */
export async function pollAzureRestore(o: AzureRestoreOps, cp: InstanceOpCheckpoint): Promise<InstanceOpPoll> {
  const what = `the restore into flexible server ${cp.name}`;
  let next = cp;
  if (cp.poller) {
    try {
      const poller = await o.client.servers.beginCreateOrUpdate(o.resourceGroup, cp.name, {} as Server, { resumeFrom: cp.poller, updateIntervalInMs: o.pollIntervalMs });
      next = { ...cp, poller: poller.toString() };
      if (!poller.isDone()) return { done: false, progress: { message: 'restoring (Azure operation in progress)' }, checkpoint: next };
    } catch (err) {
      throw azureError(what, err);
    }
  }
  // The operation succeeded (or there is no poller to follow): the server itself says whether it is ready.
  const s = await rawServer(o, cp.name);
  if (!s) return { done: false, progress: { message: 'restore started, the new server is not visible yet' }, checkpoint: next };
  if (s.state === 'Ready') {
    const ep = endpointOf(s);
    return { done: true, progress: { message: 'Ready' }, checkpoint: next, ...(ep ? { endpoint: ep } : {}) };
  }
  if (s.state === 'Disabled' || s.state === 'Dropping') throw new ProviderError(ENGINE, 'failed', `Azure reports flexible server ${cp.name} as ${s.state}: it will not become ready by itself. Check its activity log; it was left as it is.`);
  return { done: false, progress: { message: s.state ?? 'provisioning' }, checkpoint: next };
}

/**
 * One look at deleting a `/db backup verify` scratch server (`servers.beginDelete`): the DELETE is
 * sent once and its LRO poller handed back as the checkpoint, so later looks re-attach
 * (`resumeFrom`) instead of sending it again. Only a server named `dbops-verify-…` AND tagged with
 * this target and this run is deleted; anything else is refused untouched.
 */
export function deleteAzureScratch(o: AzureRestoreOps, name: string, owner: string, checkpoint?: string): Promise<ScratchDeleteLook> {
  return deleteAzureCopy(o, name, owner, 'scratch', checkpoint);
}

/** The same look for the NEW server of a failed `/db restore` (its abort): tagged with this target and run. */
export function deleteAzureRestored(o: AzureRestoreOps, name: string, owner: string, checkpoint?: string): Promise<ScratchDeleteLook> {
  return deleteAzureCopy(o, name, owner, 'restored', checkpoint);
}

async function deleteAzureCopy(o: AzureRestoreOps, name: string, owner: string, kind: 'scratch' | 'restored', checkpoint?: string): Promise<ScratchDeleteLook> {
  const what = `flexible server ${name}`;
  if (kind === 'scratch' && !name.startsWith(SCRATCH_PREFIX)) throw new ProviderError(ENGINE, 'wrong_state', `${what} is not a backup-verify scratch copy (${SCRATCH_PREFIX}…): it was not deleted.`);
  if (name === o.server) throw new ProviderError(ENGINE, 'wrong_state', `${what} is the target's own server: it was not deleted.`);
  const s = await rawServer(o, name);
  if (!s) return { gone: true, progress: `${name} is gone` };
  if (s.tags?.[AZURE_TAGS.restore] !== owner || s.tags?.[AZURE_TAGS.target] !== o.target) {
    throw new ProviderError(ENGINE, 'wrong_state', `${what} does not carry this run's tags (${AZURE_TAGS.restore}=${owner}, ${AZURE_TAGS.target}=${o.target}): it was left alone. Check who created it before deleting it by hand.`);
  }
  try {
    const poller = checkpoint
      ? await o.client.servers.beginDelete(o.resourceGroup, name, { resumeFrom: checkpoint, updateIntervalInMs: o.pollIntervalMs })
      : await o.client.servers.beginDelete(o.resourceGroup, name, { updateIntervalInMs: o.pollIntervalMs });
    // The server itself decides "gone" on the next look (the operation may end before it disappears).
    return { gone: false, progress: poller.isDone() ? `deleted ${name}; checking it is gone` : `deleting ${name} (Azure operation in progress)`, checkpoint: poller.toString() };
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return { gone: false, progress: `deleting ${name}` };
    throw azureError(what, err);
  }
}
