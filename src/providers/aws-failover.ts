/**
 * Failover on AWS: Aurora `FailoverDBCluster` (promote a reader, optionally a named one) and RDS
 * Multi-AZ `RebootDBInstance` with `ForceFailover` (the standby becomes the primary, in its zone).
 * The topology before is in the checkpoint, so a look can tell whether the switch happened.
 */
import { FailoverDBClusterCommand, RebootDBInstanceCommand } from '@aws-sdk/client-rds';
import { awsError } from './aws-errors.js';
import { describeCluster, describeInstance, whatOf, type AwsOps } from './aws-ops.js';
import { ProviderError } from './errors.js';
import type { FailoverRequest, OperationCheckpoint, OperationPoll, Topology, TopologyMember } from './emergency.js';

export async function auroraTopology(o: AwsOps): Promise<Topology> {
  const { cluster, instances } = await describeCluster(o);
  const zoneOf = new Map(instances.map((i) => [i.DBInstanceIdentifier, i]));
  const members: TopologyMember[] = (cluster.DBClusterMembers ?? []).map((m) => {
    const i = zoneOf.get(m.DBInstanceIdentifier);
    return {
      id: m.DBInstanceIdentifier ?? '?',
      role: m.IsClusterWriter ? 'writer' : 'reader',
      ...(i?.AvailabilityZone ? { zone: i.AvailabilityZone } : {}),
      ...(i?.DBInstanceStatus ? { status: i.DBInstanceStatus } : {}),
    };
  });
  const writer = members.find((m) => m.role === 'writer');
  const status = cluster.Status ?? 'unknown';
  return {
    status,
    available: status === 'available',
    ...(writer ? { writer: writer.id } : {}),
    ...(writer?.zone ? { zone: writer.zone } : {}),
    members,
    ...(members.length < 2
      ? { cannotFailover: `${whatOf(o)} has ${members.length === 1 ? `one instance (${members[0]!.id})` : 'no instances'}: a failover needs a reader to promote. Add an Aurora reader to the cluster first.` }
      : {}),
  };
}

export async function rdsTopology(o: AwsOps): Promise<Topology> {
  const db = await describeInstance(o);
  const status = db.DBInstanceStatus ?? 'unknown';
  const members: TopologyMember[] = [
    { id: o.id, role: 'writer', ...(db.AvailabilityZone ? { zone: db.AvailabilityZone } : {}), status },
    ...(db.MultiAZ ? [{ id: `${o.id} (standby)`, role: 'standby' as const, ...(db.SecondaryAvailabilityZone ? { zone: db.SecondaryAvailabilityZone } : {}) }] : []),
  ];
  return {
    status,
    available: status === 'available',
    writer: o.id,
    ...(db.AvailabilityZone ? { zone: db.AvailabilityZone } : {}),
    members,
    ...(db.MultiAZ
      ? {}
      : { cannotFailover: `${whatOf(o)} is Single-AZ (MultiAZ off): there is no standby to fail over to. Enable Multi-AZ (a modification with its own I/O impact) before a failover is possible.` }),
  };
}

export async function startAwsFailover(o: AwsOps, req: FailoverRequest, before: Topology): Promise<OperationCheckpoint> {
  const checkpoint: OperationCheckpoint = { engine: o.engine, kind: 'failover', before: { ...(before.writer ? { writer: before.writer } : {}), ...(before.zone ? { zone: before.zone } : {}) } };
  try {
    if (o.engine === 'aws-aurora') {
      await o.rds.send(new FailoverDBClusterCommand({ DBClusterIdentifier: o.id, ...(req.to ? { TargetDBInstanceIdentifier: req.to } : {}) }));
    } else {
      // ForceFailover is what makes the reboot a failover: without it the primary just restarts in place.
      await o.rds.send(new RebootDBInstanceCommand({ DBInstanceIdentifier: o.id, ForceFailover: true }));
    }
  } catch (err) {
    throw awsError(o.engine, whatOf(o), err);
  }
  return checkpoint;
}

/**
 * Aurora is done when the cluster is available with another writer; RDS when the instance is
 * available again (its identifier stays: the zone tells whether the standby took over).
 */
export async function pollAwsFailover(o: AwsOps, cp: OperationCheckpoint): Promise<OperationPoll> {
  const t = o.engine === 'aws-aurora' ? await auroraTopology(o) : await rdsTopology(o);
  const moved = o.engine === 'aws-aurora' ? t.writer !== undefined && t.writer !== cp.before?.writer : true;
  const done = t.available && moved;
  if (t.status === 'failed' || t.status === 'incompatible-parameters') {
    throw new ProviderError(o.engine, 'failed', `AWS reports ${whatOf(o)} as ${t.status} after the failover. Check its RDS events.`);
  }
  return { done, progress: { message: `${t.status}, writer ${t.writer ?? '?'}${t.zone ? ` in ${t.zone}` : ''}` }, checkpoint: cp, topology: t };
}
