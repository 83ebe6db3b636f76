// A small HTTPS fake of the Azure Resource Manager endpoints the flexible-server SDK calls for
// backups: GET server, list/GET backups, PUT an on-demand backup as an LRO (arm-https-fake.ts).
import type { ServerResponse } from 'node:http';
import { ArmHttpsFake, type OperationPlan } from './arm-https-fake.js';

export type { ArmRequest, OperationPlan } from './arm-https-fake.js';

export interface ArmBackup {
  name: string;
  backupType: 'Full' | 'Customer On-Demand';
  completedTime: string;
}

/** A token credential the SDK accepts; the fake only checks that a bearer token is sent. */
export const stubCredential = { getToken: async () => ({ token: 'fake-token', expiresOnTimestamp: Date.now() + 3.6e6 }) };

export const SUBSCRIPTION = '00000000-0000-4000-8000-000000000001';

/** The bot's Azure client deps pointed at an ARM fake (its endpoint and self-signed CA), retrying once, polling fast. */
export function armProviderDeps(fake: { endpoint: string; ca: string }) {
  return { azureCredential: stubCredential, azureClientOptions: { endpoint: fake.endpoint, tlsOptions: { ca: fake.ca }, retryOptions: { maxRetries: 1, retryDelayInMs: 10, maxRetryDelayInMs: 50 } }, azurePollIntervalMs: 10 };
}

export class ArmFake extends ArmHttpsFake {
  /** Backups per server name. */
  readonly backups = new Map<string, ArmBackup[]>();
  readonly servers = new Map<string, { backupRetentionDays: number; earliestRestoreDate: string; state: string }>();
  /** The plan for the next on-demand backup PUT. */
  nextOperation: OperationPlan = { inProgressPolls: 0, outcome: 'Succeeded' };
  /** Answer the next matching requests with this error (RestError on the client). */
  readonly faults: { method: string; pathIncludes: string; status: number; code: string; times: number }[] = [];

  putsTo(pathIncludes: string): number {
    return this.requests.filter((r) => r.method === 'PUT' && r.path.includes(pathIncludes)).length;
  }

  protected route(res: ServerResponse, url: URL, method: string): void {
    if (!url.searchParams.get('api-version')) return this.error(res, 400, 'MissingApiVersionParameter', 'api-version is required');
    const fault = this.faults.find((f) => f.times > 0 && f.method === method && url.pathname.includes(f.pathIncludes));
    if (fault) {
      fault.times--;
      return this.error(res, fault.status, fault.code, `fake ${fault.code}`);
    }
    const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.DBforPostgreSQL\/flexibleServers\/([^/]+)(?:\/backups(?:\/([^/]+))?)?$/i.exec(url.pathname);
    if (!m) return this.error(res, 404, 'InvalidResourceType', `no route ${method} ${url.pathname}`);
    const [, , rg, serverName, backupName] = m as unknown as [string, string, string, string, string | undefined];
    const server = this.servers.get(serverName);
    if (!server) return this.error(res, 404, 'ResourceNotFound', `server ${serverName} not found`);
    const base = `/subscriptions/${m[1]}/resourceGroups/${rg}/providers/Microsoft.DBforPostgreSQL/flexibleServers/${serverName}`;
    const list = this.backups.get(serverName) ?? [];
    const resource = (b: ArmBackup) => ({ id: `${base}/backups/${b.name}`, name: b.name, type: 'Microsoft.DBforPostgreSQL/flexibleServers/backups', properties: { backupType: b.backupType, completedTime: b.completedTime, source: 'Automatic' } });

    if (!url.pathname.toLowerCase().includes('/backups')) {
      if (method !== 'GET') return this.error(res, 405, 'MethodNotAllowed', method);
      return this.send(res, 200, {
        id: base,
        name: serverName,
        location: 'westeurope',
        type: 'Microsoft.DBforPostgreSQL/flexibleServers',
        properties: { state: server.state, fullyQualifiedDomainName: `${serverName}.postgres.database.azure.com`, backup: { backupRetentionDays: server.backupRetentionDays, earliestRestoreDate: server.earliestRestoreDate, geoRedundantBackup: 'Disabled' } },
      });
    }
    if (!backupName) {
      if (method !== 'GET') return this.error(res, 405, 'MethodNotAllowed', method);
      return this.send(res, 200, { value: list.map(resource) });
    }
    if (method === 'GET') {
      const b = list.find((x) => x.name === backupName);
      return b ? this.send(res, 200, resource(b)) : this.error(res, 404, 'ResourceNotFound', `backup ${backupName} not found`);
    }
    if (method === 'PUT') {
      // The backup exists from the moment the operation succeeds (the SDK then GETs it).
      return this.lro(res, this.nextOperation, () => {
        this.backups.set(serverName, [...(this.backups.get(serverName) ?? []), { name: backupName, backupType: 'Customer On-Demand', completedTime: new Date().toISOString() }]);
      }, { withLocation: true });
    }
    return this.error(res, 405, 'MethodNotAllowed', method);
  }
}
