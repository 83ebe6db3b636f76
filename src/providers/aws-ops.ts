import { DescribeDBClustersCommand, DescribeDBInstancesCommand, type DBCluster, type DBInstance, type RDSClient } from '@aws-sdk/client-rds';
import { awsError } from './aws-errors.js';
import { ProviderError } from './errors.js';

/** What the AWS emergency operations act on: one client and the target's instance (RDS) or cluster (Aurora). */
export interface AwsOps {
  readonly engine: 'aws-rds' | 'aws-aurora';
  readonly rds: RDSClient;
  /** DB instance identifier (aws-rds) or DB cluster identifier (aws-aurora). */
  readonly id: string;
}

export const whatOf = (o: AwsOps): string => (o.engine === 'aws-rds' ? `DB instance ${o.id}` : `DB cluster ${o.id}`);

export async function describeInstance(o: AwsOps): Promise<DBInstance> {
  try {
    const { DBInstances } = await o.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: o.id }));
    const db = DBInstances?.[0];
    if (db) return db;
  } catch (err) {
    throw awsError(o.engine, whatOf(o), err);
  }
  throw new ProviderError(o.engine, 'not_found', `AWS says ${whatOf(o)} does not exist. Check aws.instance and aws.region of the target.`);
}

export async function describeCluster(o: AwsOps): Promise<{ cluster: DBCluster; instances: DBInstance[] }> {
  try {
    const { DBClusters } = await o.rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: o.id }));
    const cluster = DBClusters?.[0];
    if (!cluster) throw new ProviderError(o.engine, 'not_found', `AWS says ${whatOf(o)} does not exist. Check aws.cluster and aws.region of the target.`);
    // Zones and classes live on the instances, not on the cluster's member list.
    const { DBInstances } = await o.rds.send(new DescribeDBInstancesCommand({ Filters: [{ Name: 'db-cluster-id', Values: [o.id] }] }));
    return { cluster, instances: DBInstances ?? [] };
  } catch (err) {
    throw awsError(o.engine, whatOf(o), err);
  }
}
