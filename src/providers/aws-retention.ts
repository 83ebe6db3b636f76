/** Backup retention on AWS: ModifyDBInstance (RDS) / ModifyDBCluster (Aurora) BackupRetentionPeriod, applied immediately. */
import { ModifyDBClusterCommand, ModifyDBInstanceCommand } from '@aws-sdk/client-rds';
import { awsError } from './aws-errors.js';
import { describeCluster, describeInstance, whatOf, type AwsOps } from './aws-ops.js';
import type { OperationCheckpoint, OperationPoll } from './emergency.js';
import { retentionProblem } from './emergency-limits.js';
import { ProviderError } from './errors.js';

export async function startAwsRetention(o: AwsOps, days: number): Promise<OperationCheckpoint> {
  const problem = retentionProblem(o.engine, days);
  if (problem) throw new ProviderError(o.engine, 'failed', `Not a valid retention: ${problem}.`);
  try {
    if (o.engine === 'aws-rds') await o.rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: o.id, BackupRetentionPeriod: days, ApplyImmediately: true }));
    else await o.rds.send(new ModifyDBClusterCommand({ DBClusterIdentifier: o.id, BackupRetentionPeriod: days, ApplyImmediately: true }));
  } catch (err) {
    throw awsError(o.engine, whatOf(o), err);
  }
  return { engine: o.engine, kind: 'retention', want: { days } };
}

export async function pollAwsRetention(o: AwsOps, cp: OperationCheckpoint): Promise<OperationPoll> {
  let status: string;
  let days: number | undefined;
  if (o.engine === 'aws-rds') {
    const db = await describeInstance(o);
    status = db.DBInstanceStatus ?? 'unknown';
    days = db.BackupRetentionPeriod;
  } else {
    const { cluster } = await describeCluster(o);
    status = cluster.Status ?? 'unknown';
    days = cluster.BackupRetentionPeriod;
  }
  const done = status === 'available' && days === cp.want?.days;
  return { done, progress: { message: `${status}, retention ${days ?? '?'} days` }, checkpoint: cp };
}
