/** Aurora Serverless v2 capacity range: read from and set on the cluster (ModifyDBCluster, ApplyImmediately). */
import { ModifyDBClusterCommand } from '@aws-sdk/client-rds';
import { awsError } from './aws-errors.js';
import { describeCluster, whatOf, type AwsOps } from './aws-ops.js';
import type { OperationCheckpoint, OperationPoll, ScalingRange } from './emergency.js';
import { scaleProblems } from './emergency-limits.js';
import { ProviderError } from './errors.js';

export async function auroraScaling(o: AwsOps): Promise<ScalingRange> {
  const { cluster, instances } = await describeCluster(o);
  const cfg = cluster.ServerlessV2ScalingConfiguration;
  return {
    ...(cfg?.MinCapacity !== undefined ? { min: cfg.MinCapacity } : {}),
    ...(cfg?.MaxCapacity !== undefined ? { max: cfg.MaxCapacity } : {}),
    serverlessInstances: instances.filter((i) => i.DBInstanceClass === 'db.serverless').length,
    instances: instances.length,
    status: cluster.Status ?? 'unknown',
  };
}

export async function startAuroraScale(o: AwsOps, range: { min: number; max: number }): Promise<OperationCheckpoint> {
  // The runbook checked already; checked again here because the API (and moto) would take nonsense.
  const problems = scaleProblems(range.min, range.max);
  if (problems.length) throw new ProviderError(o.engine, 'failed', `Not a valid Serverless v2 range: ${problems.join('; ')}.`);
  try {
    await o.rds.send(new ModifyDBClusterCommand({ DBClusterIdentifier: o.id, ServerlessV2ScalingConfiguration: { MinCapacity: range.min, MaxCapacity: range.max }, ApplyImmediately: true }));
  } catch (err) {
    throw awsError(o.engine, whatOf(o), err);
  }
  return { engine: o.engine, kind: 'scale', want: { min: range.min, max: range.max } };
}

export async function pollAuroraScale(o: AwsOps, cp: OperationCheckpoint): Promise<OperationPoll> {
  const r = await auroraScaling(o);
  const done = r.status === 'available' && r.min === cp.want?.min && r.max === cp.want?.max;
  return { done, progress: { message: `${r.status}, range ${r.min ?? '?'}–${r.max ?? '?'} ACU` }, checkpoint: cp };
}
