// An HTTPS fake of the ARM calls behind failover and retention on a flexible server: GET server
// (HA mode/state, zones, backup), POST …/restart and PATCH server as LROs (202 + Azure-AsyncOperation,
// InProgress → Succeeded | Failed; arm-https-fake.ts). Kept apart from arm-fake.ts (backups), which other tests own.
import type { ServerResponse } from 'node:http';
import { ArmHttpsFake, type OperationPlan } from './arm-https-fake.js';

export type { OperationPlan } from './arm-https-fake.js';

export interface FakeServer {
  state: string;
  zone: string;
  ha: { mode: 'Disabled' | 'ZoneRedundant' | 'SameZone'; state?: string; standbyZone?: string };
  backupRetentionDays: number;
}

export class ArmEmergencyFake extends ArmHttpsFake {
  readonly servers = new Map<string, FakeServer>();
  nextOperation: OperationPlan = { inProgressPolls: 0, outcome: 'Succeeded' };

  protected route(res: ServerResponse, url: URL, method: string, body: any): void {
    const m = /\/flexibleServers\/([^/]+)(\/restart)?$/i.exec(url.pathname);
    const s = m ? this.servers.get(m[1]!) : undefined;
    if (!m || !s) return this.error(res, 404, 'ResourceNotFound', 'not found');
    const name = m[1]!;
    const start = (apply: () => void) => this.lro(res, this.nextOperation, apply, { withLocation: true });
    if (m[2] && method === 'POST') {
      const p = (body ?? {}) as { restartWithFailover?: boolean };
      return start(() => {
        if (p.restartWithFailover && s.ha.standbyZone) [s.zone, s.ha.standbyZone] = [s.ha.standbyZone, s.zone];
      });
    }
    if (method === 'PATCH') {
      const p = body as { properties?: { backup?: { backupRetentionDays?: number } } };
      return start(() => {
        const d = p.properties?.backup?.backupRetentionDays;
        if (d !== undefined) s.backupRetentionDays = d;
      });
    }
    if (method === 'GET') {
      return this.send(res, 200, {
        id: url.pathname,
        name,
        location: 'westeurope',
        type: 'Microsoft.DBforPostgreSQL/flexibleServers',
        properties: {
          state: s.state,
          availabilityZone: s.zone,
          highAvailability: { mode: s.ha.mode, ...(s.ha.state ? { state: s.ha.state } : {}), ...(s.ha.standbyZone ? { standbyAvailabilityZone: s.ha.standbyZone } : {}) },
          backup: { backupRetentionDays: s.backupRetentionDays, geoRedundantBackup: 'Disabled' },
        },
      });
    }
    return this.error(res, 405, 'MethodNotAllowed', method);
  }
}
