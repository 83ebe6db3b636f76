// deploy/k8s: neither helm nor kubeconform is installable here, so this is the schema check of our
// own: every manifest parses, and what operating dbops depends on is there and consistent.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTargets } from '../src/config.js';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';

const DIR = join(import.meta.dirname, '..', 'deploy', 'k8s');
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function load(file: string): Obj[] {
  const docs = parseAllDocuments(readFileSync(join(DIR, file), 'utf8'));
  for (const d of docs) expect(d.errors, `${file}: ${d.errors.map((e) => e.message).join('; ')}`).toEqual([]);
  return docs.map((d) => d.toJS() as Obj).filter(Boolean);
}

const kustomization = load('kustomization.yaml')[0]!;
const applied = (kustomization.resources as string[]).flatMap((f) => load(f).map((o) => ({ ...o, file: f })));
const all = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).flatMap((f) => load(f).map((o) => ({ ...o, file: f })));
const byKind = (kind: string) => applied.filter((o) => o.kind === kind);
const deployment = (name: string) => byKind('Deployment').find((d) => d.metadata.name === name)!;
const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('deploy/k8s manifests', () => {
  it('every file parses and names apiVersion, kind and metadata.name; the kustomization lists every applied file', () => {
    for (const o of all) {
      expect(o.apiVersion, o.file).toBeTruthy();
      expect(o.kind, o.file).toBeTruthy();
      if (o.kind !== 'Kustomization') expect(o.metadata?.name, o.file).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
    // Secrets are created by the operator, never applied from the repository.
    expect(applied.some((o) => o.kind === 'Secret')).toBe(false);
    expect(new Set(applied.map((o) => o.kind))).toEqual(new Set(['ServiceAccount', 'ConfigMap', 'Deployment', 'Service', 'PodDisruptionBudget']));
  });

  it('separate web and worker Deployments, each with its --role, probes, resources and a non-root securityContext', () => {
    for (const [name, role] of [['dbops-web', 'web'], ['dbops-worker', 'worker']] as const) {
      const d = deployment(name);
      expect(d.apiVersion).toBe('apps/v1');
      expect(matches(d.spec.selector.matchLabels, d.spec.template.metadata.labels), `${name} selector matches its pods`).toBe(true);
      const pod = d.spec.template.spec;
      const [c] = pod.containers as Obj[];
      const args = c!.args as string[];
      expect(args.slice(-2)).toEqual(['--role', role]);
      const ports = new Map((c!.ports as Obj[]).map((p) => [p.name, p.containerPort]));
      for (const probe of ['readinessProbe', 'livenessProbe']) {
        const get = c![probe].httpGet;
        expect(get.path).toBe(probe === 'readinessProbe' ? '/readyz' : '/healthz');
        expect(ports.has(get.port), `${name} ${probe} port ${get.port} is a named container port`).toBe(true);
      }
      const env = new Map((c!.env as Obj[]).map((e) => [e.name, e]));
      // The worker has no Slack endpoint: its probes are on the metrics port, which must be set.
      if (role === 'worker') expect(env.get('DBOPS_METRICS_PORT')?.value).toBe(String(ports.get('metrics')));
      expect(c!.resources.requests.cpu).toBeTruthy();
      expect(c!.resources.requests.memory).toBeTruthy();
      expect(c!.resources.limits.memory).toBeTruthy();
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      expect(c!.securityContext.allowPrivilegeEscalation).toBe(false);
      expect(c!.securityContext.readOnlyRootFilesystem).toBe(true);
      expect(c!.securityContext.capabilities.drop).toContain('ALL');
      // Longer than the bot's 25 s shutdown grace, so SIGKILL never cuts a finishing step.
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(25);
      // Tokens and URLs only from Secrets, never inline.
      for (const k of ['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'DATABASE_URL', 'REDIS_URL', 'DBOPS_METRICS_TOKEN']) {
        const e = env.get(k);
        expect(e?.valueFrom?.secretKeyRef, `${name} ${k}`).toMatchObject({ name: 'dbops', key: k });
        expect(e?.value).toBeUndefined();
      }
      expect((c!.envFrom as Obj[]).some((f) => f.secretRef?.name === 'dbops-targets')).toBe(true);
      // The targets file from the ConfigMap, at the path DBOPS_TARGETS names, not via subPath (so a reload sees edits).
      const mount = (c!.volumeMounts as Obj[]).find((m) => m.name === 'targets')!;
      expect(mount.subPath).toBeUndefined();
      const volume = (pod.volumes as Obj[]).find((v) => v.name === 'targets')!;
      const cm = byKind('ConfigMap').find((m) => m.metadata.name === volume.configMap.name)!;
      expect(env.get('DBOPS_TARGETS')?.value).toBe(`${mount.mountPath}/${Object.keys(cm.data)[0]}`);
    }
  });

  it('the secret example defines every key the Deployments reference', () => {
    const secrets = all.filter((o) => o.kind === 'Secret');
    for (const d of byKind('Deployment'))
      for (const e of d.spec.template.spec.containers[0].env as Obj[]) {
        const ref = e.valueFrom?.secretKeyRef;
        if (!ref) continue;
        const s = secrets.find((x) => x.metadata.name === ref.name);
        expect(s?.stringData?.[ref.key], `${d.metadata.name}: ${ref.name}/${ref.key}`).toBeDefined();
      }
  });

  it('the Service selects only web pods, on the http port; each PodDisruptionBudget selects its Deployment', () => {
    const [svc] = byKind('Service');
    const web = deployment('dbops-web');
    const worker = deployment('dbops-worker');
    expect(matches(svc!.spec.selector, web.spec.template.metadata.labels)).toBe(true);
    expect(matches(svc!.spec.selector, worker.spec.template.metadata.labels)).toBe(false);
    expect(svc!.spec.ports[0].targetPort).toBe('http');
    const pdbs = byKind('PodDisruptionBudget');
    expect(pdbs).toHaveLength(2);
    for (const d of [web, worker]) {
      const covering = pdbs.filter((p) => matches(p.spec.selector.matchLabels, d.spec.template.metadata.labels));
      expect(covering, d.metadata.name).toHaveLength(1);
      expect(covering[0]!.spec.minAvailable ?? covering[0]!.spec.maxUnavailable).toBeGreaterThanOrEqual(1);
    }
  });

  it("the ConfigMap's targets file passes the bot's own loader", () => {
    const cm = byKind('ConfigMap').find((m) => m.metadata.name === 'dbops-targets')!;
    const [name, text] = Object.entries(cm.data as Record<string, string>)[0]!;
    const file = join(mkdtempSync(join(tmpdir(), 'dbops-deploy-')), name);
    writeFileSync(file, text);
    const vars = Object.fromEntries([...text.matchAll(/\$\{([A-Z_][A-Z0-9_]*)\}/g)].map((m) => [m[1]!, 'postgres://u:p@db.invalid:5432/x']));
    const secret = all.find((o) => o.kind === 'Secret' && o.metadata.name === 'dbops-targets')!;
    // Every ${VAR} the file uses is a key of the targets Secret.
    for (const v of Object.keys(vars)) expect(secret.stringData[v], v).toBeDefined();
    expect(loadTargets(file, vars).targets.size).toBeGreaterThan(0);
  });
});
