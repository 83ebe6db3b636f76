/**
 * Cloud restores and the cutover's renames on AWS. RDS: RestoreDBInstanceFromDBSnapshot /
 * RestoreDBInstanceToPointInTime into a NEW instance; Aurora: RestoreDBClusterFromSnapshot /
 * RestoreDBClusterToPointInTime (`RestoreToTime`) into a NEW cluster, then CreateDBInstance into it
 * (a restored cluster has no instance, so nothing could connect). The new resource is tagged with the
 * run that owns it: a retried step recognises its own, and `/db cutover` finds it.
 *
 * Restores copy the source's subnet group, security groups and parameter group explicitly: the API
 * otherwise gives the restored instance the defaults (a different network, other settings).
 */
import {
  AddTagsToResourceCommand,
  CreateDBInstanceCommand,
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstanceAutomatedBackupsCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  ModifyDBClusterCommand,
  ModifyDBInstanceCommand,
  paginateDescribeDBClusters,
  paginateDescribeDBInstances,
  RestoreDBClusterFromSnapshotCommand,
  RestoreDBClusterToPointInTimeCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
  RestoreDBInstanceToPointInTimeCommand,
  type DBCluster,
  type DBInstance,
  type Tag,
} from '@aws-sdk/client-rds';
import { awsError } from './aws-errors.js';
import { describeCluster, describeInstance, whatOf, type AwsOps } from './aws-ops.js';
import { awsStatus } from './aws-snapshot.js';
import { ProviderError, isProviderError } from './errors.js';
import { SCRATCH_PREFIX, type Endpoint, type InstanceOpCheckpoint, type InstanceOpPoll, type InstanceRestoreCheck, type InstanceRestoreRequest, type ManagedInstance, type RestorableWindow, type ScratchDeleteLook, type Snapshot, type SwapTag } from './provider.js';

export interface AwsRestoreOps extends AwsOps {
  /** The target's name (tagged on what dbops creates). */
  readonly target: string;
}

export const AWS_TAGS = { target: 'dbops:target', restore: 'dbops:restore-run', swapRun: 'dbops:swap-run', swapRole: 'dbops:swap-role', swapWas: 'dbops:swap-was' } as const;

const aurora = (o: AwsOps) => o.engine === 'aws-aurora';
const kindOf = (o: AwsOps) => (aurora(o) ? 'DB cluster' : 'DB instance');
/** The instance dbops creates into a restored Aurora cluster. */
export const auroraInstanceName = (cluster: string): string => `${cluster}-1`;

/** RDS identifiers: a letter first, letters/digits/hyphens, no `--`, no trailing hyphen, 1–63. */
export function awsNameProblem(name: string, what: string, max = 63): string | undefined {
  if (name.length <= max && /^[a-zA-Z][a-zA-Z0-9-]*$/.test(name) && !name.includes('--') && !name.endsWith('-')) return undefined;
  return `${name} is not a valid ${what} identifier (a letter first, then letters, digits and single hyphens, at most ${max}, not ending with a hyphen). Choose another --as.`;
}

// Instance/cluster states after which a restore or rename will not become available by itself.
const BROKEN = new Set(['failed', 'incompatible-restore', 'incompatible-parameters', 'incompatible-network', 'restore-error', 'inaccessible-encryption-credentials', 'inaccessible-encryption-credentials-recoverable', 'storage-full']);

function tagsOf(list: Tag[] | undefined): Record<string, string> {
  return Object.fromEntries((list ?? []).filter((t) => t.Key).map((t) => [t.Key!, t.Value ?? '']));
}

function managed(name: string, status: string | undefined, tags: Record<string, string>, endpoint: Endpoint | undefined): ManagedInstance {
  const role = tags[AWS_TAGS.swapRole];
  return {
    name,
    status: status ?? 'unknown',
    ...(tags[AWS_TAGS.restore] ? { restoreRun: tags[AWS_TAGS.restore] } : {}),
    ...(tags[AWS_TAGS.swapRun] && (role === 'old' || role === 'live') ? { swap: { run: tags[AWS_TAGS.swapRun]!, role, was: tags[AWS_TAGS.swapWas] ?? '' } } : {}),
    ...(endpoint ? { endpoint } : {}),
  };
}

const fromInstance = (db: DBInstance): ManagedInstance =>
  managed(db.DBInstanceIdentifier ?? '', db.DBInstanceStatus, tagsOf(db.TagList), db.Endpoint?.Address ? { host: db.Endpoint.Address, port: db.Endpoint.Port ?? 5432 } : undefined);
const fromCluster = (c: DBCluster): ManagedInstance => managed(c.DBClusterIdentifier ?? '', c.Status, tagsOf(c.TagList), c.Endpoint ? { host: c.Endpoint, port: c.Port ?? 5432 } : undefined);

const notFound = (err: unknown) => /NotFound/.test((err as { name?: string }).name ?? '');
const alreadyExists = (err: unknown) => /AlreadyExists/.test((err as { name?: string }).name ?? '');

async function rawInstance(o: AwsOps, name: string): Promise<DBInstance | undefined> {
  try {
    return (await o.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: name }))).DBInstances?.[0];
  } catch (err) {
    if (notFound(err)) return undefined;
    throw awsError(o.engine, `DB instance ${name}`, err);
  }
}

async function rawCluster(o: AwsOps, name: string): Promise<DBCluster | undefined> {
  try {
    return (await o.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: name }))).DBClusters?.[0];
  } catch (err) {
    if (notFound(err)) return undefined;
    throw awsError(o.engine, `DB cluster ${name}`, err);
  }
}

/** The instance (RDS) or cluster (Aurora) named `name`, or undefined when AWS says it does not exist. */
export async function describeAwsManaged(o: AwsOps, name: string): Promise<ManagedInstance | undefined> {
  if (aurora(o)) {
    const c = await rawCluster(o, name);
    return c ? fromCluster(c) : undefined;
  }
  const db = await rawInstance(o, name);
  return db ? fromInstance(db) : undefined;
}

export async function findAwsManaged(o: AwsOps, by: { restoreRun?: string; swapRun?: string }): Promise<ManagedInstance[]> {
  const all: ManagedInstance[] = [];
  try {
    if (aurora(o)) for await (const p of paginateDescribeDBClusters({ client: o.rds }, {})) all.push(...(p.DBClusters ?? []).map(fromCluster));
    else for await (const p of paginateDescribeDBInstances({ client: o.rds }, {})) all.push(...(p.DBInstances ?? []).filter((d) => !d.DBClusterIdentifier).map(fromInstance));
  } catch (err) {
    throw awsError(o.engine, `the ${kindOf(o)}s of the account`, err);
  }
  return all.filter((m) => (by.restoreRun === undefined || m.restoreRun === by.restoreRun) && (by.swapRun === undefined || m.swap?.run === by.swapRun));
}

/** What a restore copies from the source, and the source's own point-in-time window. */
interface SourceFacts {
  subnetGroup?: string;
  securityGroups: string[];
  parameterGroup?: string;
  instanceClass?: string;
  engine?: string;
  window: RestorableWindow;
}

// `default.*` parameter groups are what a restore gets anyway for its engine family: not passed, so a
// restore onto another major version (or moto's placeholder names) is not refused for it.
const custom = (g: string | undefined) => (g && !g.startsWith('default.') ? g : undefined);

async function sourceFacts(o: AwsOps): Promise<SourceFacts> {
  if (aurora(o)) {
    const { cluster: c, instances } = await describeCluster(o);
    const writer = instances.find((i) => c.DBClusterMembers?.some((m) => m.IsClusterWriter && m.DBInstanceIdentifier === i.DBInstanceIdentifier)) ?? instances[0];
    const retentionDays = c.BackupRetentionPeriod;
    return {
      ...(c.DBSubnetGroup ? { subnetGroup: c.DBSubnetGroup } : {}),
      securityGroups: (c.VpcSecurityGroups ?? []).map((g) => g.VpcSecurityGroupId!).filter(Boolean),
      ...(custom(c.DBClusterParameterGroup) ? { parameterGroup: c.DBClusterParameterGroup! } : {}),
      ...(writer?.DBInstanceClass ? { instanceClass: writer.DBInstanceClass } : {}),
      ...(c.Engine ? { engine: c.Engine } : {}),
      // A DB cluster publishes its window itself.
      window: {
        granularity: 'continuous',
        ...(retentionDays !== undefined ? { retentionDays } : {}),
        ...(c.EarliestRestorableTime ? { earliest: c.EarliestRestorableTime } : {}),
        ...(c.LatestRestorableTime ? { latest: c.LatestRestorableTime } : {}),
      },
    };
  }
  const db = await describeInstance(o);
  return {
    ...(db.DBSubnetGroup?.DBSubnetGroupName ? { subnetGroup: db.DBSubnetGroup.DBSubnetGroupName } : {}),
    securityGroups: (db.VpcSecurityGroups ?? []).map((g) => g.VpcSecurityGroupId!).filter(Boolean),
    ...(custom(db.DBParameterGroups?.[0]?.DBParameterGroupName) ? { parameterGroup: db.DBParameterGroups![0]!.DBParameterGroupName! } : {}),
    ...(db.DBInstanceClass ? { instanceClass: db.DBInstanceClass } : {}),
    ...(db.Engine ? { engine: db.Engine } : {}),
    window: await instanceWindow(o, db),
  };
}

/**
 * A DB instance has LatestRestorableTime but no earliest: that is its automated backups'
 * RestoreWindow.EarliestTime. Where that is missing (moto returns no RestoreWindow; a very new
 * instance), the oldest automated snapshot's time, else the instance's creation time, is taken as the
 * earliest — never earlier than anything AWS could restore to.
 */
async function instanceWindow(o: AwsOps, db: DBInstance): Promise<RestorableWindow> {
  const retentionDays = db.BackupRetentionPeriod;
  let earliest: Date | undefined;
  let latest = db.LatestRestorableTime;
  try {
    const { DBInstanceAutomatedBackups: b } = await o.rds.send(new DescribeDBInstanceAutomatedBackupsCommand({ DBInstanceIdentifier: o.id }));
    const active = b?.find((x) => x.Status === 'active') ?? b?.[0];
    earliest = active?.RestoreWindow?.EarliestTime;
    latest ??= active?.RestoreWindow?.LatestTime;
    if (!earliest) {
      const { DBSnapshots } = await o.rds.send(new DescribeDBSnapshotsCommand({ DBInstanceIdentifier: o.id, SnapshotType: 'automated' }));
      const times = (DBSnapshots ?? []).map((s) => s.SnapshotCreateTime?.getTime()).filter((t): t is number => t !== undefined);
      earliest = times.length ? new Date(Math.min(...times)) : db.InstanceCreateTime;
    }
  } catch (err) {
    throw awsError(o.engine, whatOf(o), err);
  }
  return { granularity: 'continuous', ...(retentionDays !== undefined ? { retentionDays } : {}), ...(retentionDays !== 0 && earliest ? { earliest } : {}), ...(retentionDays !== 0 && latest ? { latest } : {}) };
}

async function snapshotOf(o: AwsOps, id: string): Promise<(Snapshot & { source?: string }) | undefined> {
  try {
    if (aurora(o)) {
      const s = (await o.rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: id }))).DBClusterSnapshots?.[0];
      return s ? { id, type: s.SnapshotType === 'manual' ? 'manual' : 'automated', status: awsStatus(s.Status), ...(s.Status ? { engineStatus: s.Status } : {}), ...(s.SnapshotCreateTime ? { createdAt: s.SnapshotCreateTime } : {}), ...(s.DBClusterIdentifier ? { source: s.DBClusterIdentifier } : {}) } : undefined;
    }
    const s = (await o.rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: id }))).DBSnapshots?.[0];
    return s ? { id, type: s.SnapshotType === 'manual' ? 'manual' : 'automated', status: awsStatus(s.Status), ...(s.Status ? { engineStatus: s.Status } : {}), ...(s.SnapshotCreateTime ? { createdAt: s.SnapshotCreateTime } : {}), ...(s.DBInstanceIdentifier ? { source: s.DBInstanceIdentifier } : {}) } : undefined;
  } catch (err) {
    if (notFound(err)) return undefined;
    throw awsError(o.engine, `snapshot ${id}`, err);
  }
}

const iso = (d: Date | undefined) => (d ? d.toISOString().replace(/\.\d{3}Z$/, 'Z') : '?');

/** Pre-checks; creates nothing. Each problem is one plain line (no ARN, no host). */
export async function checkAwsRestore(o: AwsRestoreOps, req: InstanceRestoreRequest): Promise<InstanceRestoreCheck> {
  const problems: string[] = [];
  const nameProblem = awsNameProblem(req.newName, kindOf(o), aurora(o) ? 61 : 63);
  if (nameProblem) problems.push(nameProblem);
  if (req.newName === o.id) problems.push(`${req.newName} is ${o.target}'s own ${kindOf(o)}: a restore goes into a NEW one. Choose another --as.`);
  let src: SourceFacts;
  try {
    // Also the credentials check: the same call the restore starts with.
    src = await sourceFacts(o);
  } catch (err) {
    return { problems: [...problems, isProviderError(err) ? err.userMessage : `Could not read ${whatOf(o)}.`] };
  }
  let restorePoint: Date | undefined;
  let snapshot: Snapshot | undefined;
  if (req.source.snapshotId !== undefined) {
    const s = await snapshotOf(o, req.source.snapshotId);
    if (!s) problems.push(`No snapshot ${req.source.snapshotId} of ${whatOf(o)}. See \`/db snapshots ${o.target}\` for the ones there are.`);
    else if (s.source && s.source !== o.id) problems.push(`Snapshot ${s.id} is of another ${kindOf(o)} (${s.source}), not of ${o.target}.`);
    else if (s.status !== 'available') problems.push(`Snapshot ${s.id} is ${s.engineStatus ?? s.status}, not available: wait until it is (see \`/db snapshots ${o.target}\`).`);
    else {
      snapshot = s;
      restorePoint = s.createdAt;
    }
  } else {
    const t = new Date(req.source.toTime);
    const w = src.window;
    // The bot checks this itself: moto restores to any time, and AWS's own refusal would come only after the pre-restore snapshot.
    if (w.retentionDays === 0) problems.push(`${whatOf(o)} keeps no automated backups (retention 0 days): there is no point in time to restore to. Restore from a snapshot instead.`);
    else if (!w.earliest || !w.latest) problems.push(`AWS reports no restorable window for ${whatOf(o)} yet. Restore from a snapshot instead.`);
    else if (t < w.earliest || t > w.latest) problems.push(`${iso(t)} is outside the restorable window of ${whatOf(o)} (${iso(w.earliest)} → ${iso(w.latest)}). Choose a time inside it, or restore from a snapshot.`);
    else restorePoint = t;
  }
  let alreadyOurs = false;
  if (!nameProblem) {
    const existing = await describeAwsManaged(o, req.newName);
    alreadyOurs = existing?.restoreRun === req.owner;
    if (existing && !alreadyOurs) problems.push(`A ${kindOf(o)} named ${req.newName} already exists. Choose another name with --as.`);
    if (aurora(o) && !existing) {
      const inst = await rawInstance(o, auroraInstanceName(req.newName));
      if (inst) problems.push(`A DB instance named ${auroraInstanceName(req.newName)} (the restored cluster's instance) already exists. Choose another name with --as.`);
    }
  }
  return { problems, window: src.window, ...(restorePoint ? { restorePoint } : {}), ...(snapshot ? { snapshot } : {}), ...(alreadyOurs ? { alreadyOurs } : {}) };
}

/** Starts the restore; an existing resource of the same owner means an earlier attempt did (a lost answer, a crash). */
export async function startAwsRestore(o: AwsRestoreOps, req: InstanceRestoreRequest): Promise<InstanceOpCheckpoint> {
  const cp: InstanceOpCheckpoint = { engine: o.engine, kind: 'restore', name: req.newName, ...(aurora(o) ? { phase: 'cluster' as const, instance: auroraInstanceName(req.newName) } : {}) };
  const ours = async (): Promise<boolean> => {
    const m = await describeAwsManaged(o, req.newName);
    if (m && m.restoreRun !== req.owner) throw new ProviderError(o.engine, 'already_exists', `A ${kindOf(o)} named ${req.newName} exists and is not this run's: it was left alone and nothing was restored. Choose another --as.`);
    return m !== undefined;
  };
  if (await ours()) return { ...cp, alreadyStarted: true };
  const src = await sourceFacts(o);
  const ov = req.overrides ?? {};
  const subnet = ov.subnetGroup ?? src.subnetGroup;
  const sgs = ov.securityGroups?.length ? [...ov.securityGroups] : src.securityGroups;
  const params = ov.parameterGroup ?? src.parameterGroup;
  const instanceClass = ov.instanceClass ?? src.instanceClass;
  const Tags: Tag[] = [
    { Key: AWS_TAGS.target, Value: o.target },
    { Key: AWS_TAGS.restore, Value: req.owner },
  ];
  const net = { ...(subnet ? { DBSubnetGroupName: subnet } : {}), ...(sgs.length ? { VpcSecurityGroupIds: sgs } : {}) };
  try {
    if (aurora(o)) {
      const common = { DBClusterIdentifier: req.newName, ...net, ...(params ? { DBClusterParameterGroupName: params } : {}), Tags };
      if (req.source.snapshotId !== undefined) await o.rds.send(new RestoreDBClusterFromSnapshotCommand({ ...common, SnapshotIdentifier: req.source.snapshotId, Engine: src.engine ?? 'aurora-postgresql' }));
      // RestoreToTime (RestoreTime is the RDS instance API's name).
      else await o.rds.send(new RestoreDBClusterToPointInTimeCommand({ ...common, SourceDBClusterIdentifier: o.id, RestoreToTime: new Date(req.source.toTime) }));
    } else {
      const common = { ...net, ...(params ? { DBParameterGroupName: params } : {}), ...(instanceClass ? { DBInstanceClass: instanceClass } : {}), Tags };
      if (req.source.snapshotId !== undefined) await o.rds.send(new RestoreDBInstanceFromDBSnapshotCommand({ ...common, DBInstanceIdentifier: req.newName, DBSnapshotIdentifier: req.source.snapshotId }));
      else await o.rds.send(new RestoreDBInstanceToPointInTimeCommand({ ...common, SourceDBInstanceIdentifier: o.id, TargetDBInstanceIdentifier: req.newName, RestoreTime: new Date(req.source.toTime) }));
    }
  } catch (err) {
    // The SDK retried a request whose first answer was lost: "already exists" for our own name is our restore.
    if (alreadyExists(err) && (await ours())) return { ...cp, alreadyStarted: true };
    throw awsError(o.engine, `the restore of ${whatOf(o)} into ${req.newName}`, err);
  }
  return { ...cp, ...(aurora(o) && instanceClass ? { instanceClass } : {}) };
}

const broken = (what: string, status: string, engine: AwsOps['engine']) =>
  new ProviderError(engine, 'failed', `AWS reports ${what} as ${status}: it will not become available by itself. Check its RDS events; it was left as it is.`);

/** One look at a restore or rename (never waits); Aurora creates the cluster's instance once the cluster is available. */
export async function pollAwsOp(o: AwsRestoreOps, cp: InstanceOpCheckpoint): Promise<InstanceOpPoll> {
  if (cp.kind === 'rename') return pollRename(o, cp);
  const what = `${kindOf(o)} ${cp.name}`;
  if (aurora(o)) {
    const c = await rawCluster(o, cp.name);
    if (!c) return { done: false, progress: { message: 'restore started, the new cluster is not visible yet' }, checkpoint: cp };
    const status = c.Status ?? 'unknown';
    if (BROKEN.has(status)) throw broken(what, status, o.engine);
    if (cp.phase === 'cluster') {
      if (status !== 'available') return { done: false, progress: { message: `cluster ${status}` }, checkpoint: cp };
      const instance = cp.instance ?? auroraInstanceName(cp.name);
      try {
        await o.rds.send(
          new CreateDBInstanceCommand({
            DBInstanceIdentifier: instance,
            DBClusterIdentifier: cp.name,
            Engine: c.Engine ?? 'aurora-postgresql',
            DBInstanceClass: cp.instanceClass ?? 'db.r6g.large',
            Tags: [{ Key: AWS_TAGS.target, Value: o.target }, ...(c.TagList ?? []).filter((t) => t.Key === AWS_TAGS.restore)],
          }),
        );
      } catch (err) {
        // A retried look whose CreateDBInstance went through before: the instance is ours.
        if (!alreadyExists(err)) throw awsError(o.engine, `the instance of the restored cluster ${cp.name}`, err);
      }
      return { done: false, progress: { message: `cluster available; creating its instance ${instance}` }, checkpoint: { ...cp, phase: 'instance', instance } };
    }
    const inst = await rawInstance(o, cp.instance ?? auroraInstanceName(cp.name));
    const ist = inst?.DBInstanceStatus ?? 'not visible yet';
    if (BROKEN.has(ist)) throw broken(`DB instance ${cp.instance}`, ist, o.engine);
    if (ist !== 'available' || status !== 'available') return { done: false, progress: { message: `cluster ${status}, instance ${ist}` }, checkpoint: cp };
    return { done: true, progress: { message: 'available' }, checkpoint: cp, ...(c.Endpoint ? { endpoint: { host: c.Endpoint, port: c.Port ?? 5432 } } : {}) };
  }
  const db = await rawInstance(o, cp.name);
  if (!db) return { done: false, progress: { message: 'restore started, the new instance is not visible yet' }, checkpoint: cp };
  const status = db.DBInstanceStatus ?? 'unknown';
  if (BROKEN.has(status)) throw broken(what, status, o.engine);
  if (status !== 'available') return { done: false, progress: { message: status }, checkpoint: cp };
  return { done: true, progress: { message: 'available' }, checkpoint: cp, ...(db.Endpoint?.Address ? { endpoint: { host: db.Endpoint.Address, port: db.Endpoint.Port ?? 5432 } } : {}) };
}

/**
 * Always looks at the NEW identifier: once AWS applies the rename the old one is gone, so a waiter on
 * it would never see "available" again. Until the new one is visible, the old one says "renaming".
 */
async function pollRename(o: AwsRestoreOps, cp: InstanceOpCheckpoint): Promise<InstanceOpPoll> {
  const now = await describeAwsManaged(o, cp.name);
  if (now && BROKEN.has(now.status)) throw broken(`${kindOf(o)} ${cp.name}`, now.status, o.engine);
  if (now?.status === 'available') return { done: true, progress: { message: `${cp.name} available` }, checkpoint: cp, ...(now.endpoint ? { endpoint: now.endpoint } : {}) };
  if (now) return { done: false, progress: { message: `${cp.name} ${now.status}` }, checkpoint: cp };
  const before = cp.from ? await describeAwsManaged(o, cp.from) : undefined;
  return { done: false, progress: { message: before ? `${cp.from} ${before.status} (becoming ${cp.name})` : `renaming to ${cp.name}` }, checkpoint: cp };
}

/**
 * Marks `from` (tags first: if the worker dies between the two calls, the next attempt still
 * recognises it), then renames it to `to`. Refuses when `to` exists: AWS refuses such a rename, and
 * moto would silently replace the other resource. A `to` already carrying this exact mark means an
 * earlier attempt renamed it.
 */
export async function startAwsRename(o: AwsRestoreOps, from: string, to: string, mark: SwapTag): Promise<InstanceOpCheckpoint> {
  const cp: InstanceOpCheckpoint = { engine: o.engine, kind: 'rename', name: to, from };
  const target = await describeAwsManaged(o, to);
  if (target) {
    if (target.swap?.run === mark.run && target.swap.role === mark.role && target.swap.was === mark.was) return { ...cp, alreadyStarted: true };
    throw new ProviderError(o.engine, 'already_exists', `A ${kindOf(o)} named ${to} already exists, so ${from} cannot take that name (AWS refuses the rename). Rename or delete ${to} first; nothing was renamed in this step.`);
  }
  const arn = aurora(o) ? (await rawCluster(o, from))?.DBClusterArn : (await rawInstance(o, from))?.DBInstanceArn;
  if (!arn) throw new ProviderError(o.engine, 'not_found', `${kindOf(o)} ${from} does not exist any more; nothing was renamed in this step.`);
  try {
    await o.rds.send(new AddTagsToResourceCommand({ ResourceName: arn, Tags: [{ Key: AWS_TAGS.swapRun, Value: mark.run }, { Key: AWS_TAGS.swapRole, Value: mark.role }, { Key: AWS_TAGS.swapWas, Value: mark.was }] }));
    if (aurora(o)) await o.rds.send(new ModifyDBClusterCommand({ DBClusterIdentifier: from, NewDBClusterIdentifier: to, ApplyImmediately: true }));
    else await o.rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: from, NewDBInstanceIdentifier: to, ApplyImmediately: true }));
  } catch (err) {
    throw awsError(o.engine, `${kindOf(o)} ${from}`, err);
  }
  return cp;
}

/**
 * One look at deleting a `/db backup verify` scratch copy (never waits): sends the delete once the
 * resource is idle, then reports "gone" when AWS no longer knows it. Only ever a resource named
 * `dbops-verify-…` AND tagged with this target and this run: anything else is refused untouched, so
 * a wrong name can never delete a real instance. RDS: no final snapshot and no retained automated
 * backups (a scratch copy must not leave billable leftovers). Aurora: the cluster's instances first
 * (AWS refuses to delete a cluster that still has some), then the cluster without a final snapshot.
 */
export function deleteAwsScratch(o: AwsRestoreOps, name: string, owner: string): Promise<ScratchDeleteLook> {
  return deleteAwsCopy(o, name, owner, 'scratch');
}

/**
 * The same look for the NEW instance/cluster of a failed `/db restore` (its abort): tagged with this
 * target and run, and never one a cutover marked (it may be serving the target, or be the way back).
 */
export function deleteAwsRestored(o: AwsRestoreOps, name: string, owner: string): Promise<ScratchDeleteLook> {
  return deleteAwsCopy(o, name, owner, 'restored');
}

async function deleteAwsCopy(o: AwsRestoreOps, name: string, owner: string, kind: 'scratch' | 'restored'): Promise<ScratchDeleteLook> {
  const what = `${kindOf(o)} ${name}`;
  if (kind === 'scratch' && !name.startsWith(SCRATCH_PREFIX)) throw new ProviderError(o.engine, 'wrong_state', `${what} is not a backup-verify scratch copy (${SCRATCH_PREFIX}…): it was not deleted.`);
  if (name === o.id) throw new ProviderError(o.engine, 'wrong_state', `${what} is the target's own ${kindOf(o)}: it was not deleted.`);
  const res = aurora(o) ? await rawCluster(o, name) : await rawInstance(o, name);
  if (!res) return { gone: true, progress: `${name} is gone` };
  const tags = tagsOf(res.TagList);
  if (tags[AWS_TAGS.restore] !== owner || tags[AWS_TAGS.target] !== o.target) {
    throw new ProviderError(o.engine, 'wrong_state', `${what} does not carry this run's tags (${AWS_TAGS.restore}=${owner}, ${AWS_TAGS.target}=${o.target}): it was left alone. Check who created it before deleting it by hand.`);
  }
  if (tags[AWS_TAGS.swapRun]) throw new ProviderError(o.engine, 'wrong_state', `${what} was part of a cutover (${AWS_TAGS.swapRun}=${tags[AWS_TAGS.swapRun]}): it may be serving the target; it was left alone. Roll the cutover back first.`);
  try {
    if (!aurora(o)) {
      const st = (res as DBInstance).DBInstanceStatus;
      if (st !== 'deleting') await o.rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: name, SkipFinalSnapshot: true, DeleteAutomatedBackups: true }));
      return { gone: false, progress: `deleting ${name}` };
    }
    const c = res as DBCluster;
    const members = new Set([...(c.DBClusterMembers ?? []).map((m) => m.DBInstanceIdentifier!).filter(Boolean), auroraInstanceName(name)]);
    let left = 0;
    for (const id of members) {
      const inst = await rawInstance(o, id);
      if (!inst || inst.DBClusterIdentifier !== name) continue;
      left++;
      // Aurora instances have no snapshot of their own: the cluster's SkipFinalSnapshot is what counts.
      if (inst.DBInstanceStatus !== 'deleting') await o.rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: id }));
    }
    if (left) return { gone: false, progress: `deleting the ${left} instance${left === 1 ? '' : 's'} of ${name}` };
    if (c.Status !== 'deleting') await o.rds.send(new DeleteDBClusterCommand({ DBClusterIdentifier: name, SkipFinalSnapshot: true }));
    return { gone: false, progress: `deleting ${name}` };
  } catch (err) {
    // Gone between the look and the delete: the next look confirms it. Already being deleted (a lost answer): look again.
    if (notFound(err)) return { gone: false, progress: `deleting ${name}` };
    if (/InvalidDB(Instance|Cluster)State/.test((err as { name?: string }).name ?? '')) return { gone: false, progress: `${name} is busy; deleting it once it is idle` };
    throw awsError(o.engine, what, err);
  }
}
