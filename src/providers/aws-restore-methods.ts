/**
 * The restore, rename and delete methods aws-rds and aws-aurora share: both hand restore-aws.ts their
 * own client, identifier and target; only what `restoreOps` returns differs (an instance, a cluster).
 */
import type { InstanceOpCheckpoint, InstanceOpPoll, InstanceRestoreCheck, InstanceRestoreRequest, ManagedInstance, RunCopyKind, ScratchDeleteLook, SwapTag } from './provider.js';
import { checkAwsRestore, deleteAwsRestored, deleteAwsScratch, describeAwsManaged, findAwsManaged, pollAwsOp, startAwsRename, startAwsRestore, type AwsRestoreOps } from './restore-aws.js';

export abstract class AwsRestoreMethods {
  protected abstract get restoreOps(): AwsRestoreOps;

  checkInstanceRestore(req: InstanceRestoreRequest): Promise<InstanceRestoreCheck> {
    return checkAwsRestore(this.restoreOps, req);
  }
  startInstanceRestore(req: InstanceRestoreRequest): Promise<InstanceOpCheckpoint> {
    return startAwsRestore(this.restoreOps, req);
  }
  pollInstanceOp(cp: InstanceOpCheckpoint): Promise<InstanceOpPoll> {
    return pollAwsOp(this.restoreOps, cp);
  }
  describeManaged(name: string): Promise<ManagedInstance | undefined> {
    return describeAwsManaged(this.restoreOps, name);
  }
  findManaged(by: { restoreRun?: string; swapRun?: string }): Promise<ManagedInstance[]> {
    return findAwsManaged(this.restoreOps, by);
  }
  startRename(from: string, to: string, mark: SwapTag): Promise<InstanceOpCheckpoint> {
    return startAwsRename(this.restoreOps, from, to, mark);
  }
  deleteRunCopy(kind: RunCopyKind, name: string, owner: string): Promise<ScratchDeleteLook> {
    return (kind === 'scratch' ? deleteAwsScratch : deleteAwsRestored)(this.restoreOps, name, owner);
  }
}
