// An HTTPS fake of the ARM calls behind a point-in-time restore of a flexible server: GET/list
// servers, PUT a server (createMode PointInTimeRestore) as an LRO (Azure-AsyncOperation,
// InProgress → Succeeded | Failed, then the final GET), and on-demand backups (the pre-restore
// snapshot) as an LRO that succeeds at once; DELETE a server as an LRO (backup verify's scratch copy);
// the server and LRO plumbing are arm-https-fake.ts'. Kept apart from arm-fake.ts, which other tests own.
import type { ServerResponse } from 'node:http';
import { ArmHttpsFake, type ArmRequest, type OperationPlan } from './arm-https-fake.js';

export interface FakeFlexServer {
  state: string;
  location: string;
  earliestRestoreDate: string;
  tags?: Record<string, string>;
}

export type RestorePlan = OperationPlan;

export class ArmRestoreFake extends ArmHttpsFake {
  readonly servers = new Map<string, FakeFlexServer>();
  readonly backups = new Map<string, { name: string; completedTime: string }[]>();
  nextRestore: RestorePlan = { inProgressPolls: 0, outcome: 'Succeeded' };
  nextDelete: RestorePlan = { inProgressPolls: 0, outcome: 'Succeeded' };

  putsTo(server: string): ArmRequest[] {
    return this.requests.filter((r) => r.method === 'PUT' && r.path.endsWith(`/flexibleServers/${server}`));
  }

  #resource(base: string, name: string, s: FakeFlexServer): unknown {
    return { id: base, name, location: s.location, type: 'Microsoft.DBforPostgreSQL/flexibleServers', tags: s.tags ?? {}, properties: { state: s.state, fullyQualifiedDomainName: `${name}.postgres.database.azure.com`, backup: { backupRetentionDays: 7, earliestRestoreDate: s.earliestRestoreDate, geoRedundantBackup: 'Disabled' } } };
  }

  protected route(res: ServerResponse, url: URL, method: string, body: any): void {
    const list = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.DBforPostgreSQL\/flexibleServers$/i.exec(url.pathname);
    if (list && method === 'GET') {
      return this.send(res, 200, { value: [...this.servers].map(([n, s]) => this.#resource(`${url.pathname}/${n}`, n, s)) });
    }
    const lb = /\/flexibleServers\/([^/]+)\/backups$/i.exec(url.pathname);
    if (lb && method === 'GET') {
      return this.send(res, 200, { value: (this.backups.get(lb[1]!) ?? []).map((b) => ({ id: `${url.pathname}/${b.name}`, name: b.name, properties: { backupType: 'Customer On-Demand', completedTime: b.completedTime } })) });
    }
    const m = /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.DBforPostgreSQL\/flexibleServers\/([^/]+))(?:\/backups\/([^/]+))?$/i.exec(url.pathname);
    if (!m) return this.error(res, 404, 'InvalidResourceType', `no route ${method} ${url.pathname}`);
    const [, base, name, backup] = m as unknown as [string, string, string, string | undefined];
    const s = this.servers.get(name);
    if (backup) {
      if (!s) return this.error(res, 404, 'ResourceNotFound', `server ${name} not found`);
      const bs = this.backups.get(name) ?? [];
      const found = bs.find((b) => b.name === backup);
      const resource = (b: { name: string; completedTime: string }) => ({ id: `${base}/backups/${b.name}`, name: b.name, properties: { backupType: 'Customer On-Demand', completedTime: b.completedTime } });
      if (method === 'GET') return found ? this.send(res, 200, resource(found)) : this.error(res, 404, 'ResourceNotFound', `backup ${backup} not found`);
      if (method === 'PUT') return this.lro(res, { inProgressPolls: 0, outcome: 'Succeeded' }, () => this.backups.set(name, [...bs, { name: backup, completedTime: new Date().toISOString() }]));
      return this.error(res, 405, 'MethodNotAllowed', method);
    }
    if (method === 'GET') return s ? this.send(res, 200, this.#resource(base, name, s)) : this.error(res, 404, 'ResourceNotFound', `server ${name} not found`);
    if (method === 'PUT') {
      const b = body as { location?: string; tags?: Record<string, string>; properties?: { createMode?: string; sourceServerResourceId?: string; pointInTimeUTC?: string } };
      if (s) return this.error(res, 409, 'ServerAlreadyExists', `server ${name} exists`);
      if (b.properties?.createMode !== 'PointInTimeRestore' || !b.properties.sourceServerResourceId || !b.properties.pointInTimeUTC) return this.error(res, 400, 'InvalidParameterValue', 'PITR fields missing');
      const restored: FakeFlexServer = { state: 'Ready', location: b.location ?? 'westeurope', earliestRestoreDate: new Date().toISOString(), ...(b.tags ? { tags: b.tags } : {}) };
      return this.lro(res, this.nextRestore, () => this.servers.set(name, restored), { status: 201 });
    }
    if (method === 'DELETE') {
      // servers.beginDelete: "Dropping" at once, gone when the operation is first seen succeeded.
      if (!s) return this.send(res, 204);
      s.state = 'Dropping';
      return this.lro(res, this.nextDelete, () => this.servers.delete(name));
    }
    return this.error(res, 405, 'MethodNotAllowed', method);
  }
}
