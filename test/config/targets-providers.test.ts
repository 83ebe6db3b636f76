// The targets file's provider fields (aws, azure, backups): validated at start, secrets expanded and registered.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadTargets } from '../../src/config.js';
import { redact } from '../../src/log.js';
import { targetsYaml } from '../helpers/bot.js';

const SUB = '00000000-0000-4000-8000-000000000001';

function load(targets: Record<string, string>, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'dbops-cfg-'));
  const path = join(dir, 'targets.yaml');
  writeFileSync(path, targetsYaml(targets));
  return loadTargets(path, { T_URL: 'postgres://u:pw@db.internal/x', ...env });
}

function problems(targets: Record<string, string>, env: Record<string, string> = {}): string[] {
  try {
    load(targets, env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => p.replace(/^.*targets\.yaml: /, ''));
    throw e;
  }
  return [];
}

const base = (engine: string, extra: string) => `environment: staging\nengine: ${engine}\nurl: \${T_URL}\n${extra}`;

describe('targets file: provider fields', () => {
  it('reads aws (with roleArn), azure and backups into the target', () => {
    const cfg = load({
      rds: base('aws-rds', 'aws: { region: eu-west-1, instance: orders, roleArn: "arn:aws:iam::123456789012:role/dbops" }'),
      flex: base('azure-flexible', `azure: { subscription: ${SUB}, resourceGroup: rg, server: pay }`),
      sh: base('self-hosted', 'backups: { store: "s3://dumps/orders", keep: 7, keepDays: 30, jobs: 4, scratchUrl: "${SCRATCH_URL}", s3: { region: eu-west-1, forcePathStyle: true } }'),
    }, { SCRATCH_URL: 'postgres://scratch:hunter2@10.0.0.9/postgres' });
    expect(cfg.targets.get('rds')!.aws).toEqual({ region: 'eu-west-1', instance: 'orders', roleArn: 'arn:aws:iam::123456789012:role/dbops' });
    expect(cfg.targets.get('flex')!.azure).toEqual({ subscription: SUB, resourceGroup: 'rg', server: 'pay' });
    const b = cfg.targets.get('sh')!.backups!;
    expect(b).toEqual({ store: 's3://dumps/orders', keep: 7, keepDays: 30, jobs: 4, scratchUrl: 'postgres://scratch:hunter2@10.0.0.9/postgres', s3: { region: 'eu-west-1', forcePathStyle: true } });
    // scratchUrl is a secret like url: the logger redacts it.
    expect(redact(`restore into ${b.scratchUrl}`)).not.toContain('hunter2');
  });

  it('refuses what would fail later: a bad role ARN, a non-UUID subscription, unknown keys, out-of-range retention', () => {
    expect(problems({ rds: base('aws-rds', 'aws: { region: eu-west-1, instance: o, roleArn: "dbops-role" }') })).toEqual(['targets.rds.aws.roleArn: must be an IAM role ARN']);
    expect(problems({ rds: base('aws-rds', 'aws: { region: eu-west-1, instance: o, rolearn: x }') })[0]).toMatch(/^targets\.rds\.aws: .*rolearn/i);
    expect(problems({ f: base('azure-flexible', 'azure: { subscription: my-sub, resourceGroup: rg, server: s }') })).toEqual(['targets.f.azure.subscription: must be a subscription UUID']);
    expect(problems({ s: base('self-hosted', 'backups: { store: /b, keep: 0 }') })[0]).toMatch(/^targets\.s\.backups\.keep: /);
    expect(problems({ s: base('self-hosted', 'backups: { store: /b, jobs: 65 }') })[0]).toMatch(/^targets\.s\.backups\.jobs: /);
    expect(problems({ s: base('self-hosted', 'backups: { store: /b, retain: 3 }') })[0]).toMatch(/^targets\.s\.backups: .*retain/i);
    expect(problems({ s: base('self-hosted', 'backups: { store: "" }') })[0]).toMatch(/^targets\.s\.backups\.store: /);
  });

  it('a scratchUrl variable that is not set, or not a postgres URL, is a start-up problem', () => {
    expect(problems({ s: base('self-hosted', 'backups: { store: /b, scratchUrl: "${NOPE}" }') })).toEqual(['targets.s.backups.scratchUrl: environment variable NOPE is not set']);
    expect(problems({ s: base('self-hosted', 'backups: { store: /b, scratchUrl: "${S}" }') }, { S: 'mysql://x' })).toEqual(['targets.s.backups.scratchUrl must resolve to a postgres:// URL']);
  });
});
