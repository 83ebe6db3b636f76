// A copied help example works where the reader is: examples name the workspace's first target.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { helpMessage, verbHelpMessage } from '../../src/commands/help.js';
import { loadTargets } from '../../src/config.js';
import { defaultRegistry } from '../../src/runbooks/index.js';
import { TARGETS_FILE } from '../../sandbox/paths.js';
import { ask, startTestBot, targetsYaml, textOf, type TestBot } from '../helpers/bot.js';

const VERBS = ['status', 'connections', 'locks', 'vacuum', 'analyze', 'cancel', 'kill'];
/** Every `/db <verb> <word>` in a text, for verbs that take a target. */
const targetsNamed = (text: string) => [...text.matchAll(/\/db (status|connections|locks|vacuum|analyze|cancel|kill|runs|audit) ([^\s`]+)/g)].map((m) => [m[1]!, m[2]!] as const);

let tb: TestBot;
beforeAll(async () => {
  // Help never connects to a target, so the URLs need not lead anywhere.
  tb = await startTestBot({
    targets: targetsYaml({
      'shop-eu': 'environment: staging\nengine: self-hosted\nurl: postgres://127.0.0.1:1/shop',
      'billing-prod': 'environment: production\nengine: self-hosted\nurl: postgres://127.0.0.1:1/billing',
    }),
  });
});
afterAll(async () => {
  await tb?.stop();
});

describe('help examples name a configured target', () => {
  it('/db help: every example names the first target of the targets file', async () => {
    const text = await ask(tb, 'help');
    const examples = [...text.matchAll(/^• `(\/db [^`]+)`/gm)].map((m) => m[1]!);
    for (const v of VERBS) expect(examples.some((e) => e.startsWith(`/db ${v} `)), v).toBe(true);
    const named = examples.flatMap(targetsNamed);
    expect(named.length).toBeGreaterThanOrEqual(VERBS.length + 2);
    for (const [verb, target] of named) expect(`${verb} ${target}`).toBe(`${verb} shop-eu`);
    expect(text).not.toContain('orders-prod');
  });

  it('/db help <verb>: all examples of a verb, and of a meta verb, name it too', async () => {
    for (const verb of ['vacuum', 'kill', 'audit', 'runs']) {
      const text = await ask(tb, `help ${verb}`);
      const examples = [...text.matchAll(/`(\/db [^`]+)`/g)].map((m) => m[1]!).filter((e) => !/[<[]|&lt;/.test(e));
      const named = examples.flatMap(targetsNamed);
      expect(named.length, verb).toBeGreaterThan(0);
      for (const [v, target] of named) expect(`${v} ${target}`).toBe(`${v} shop-eu`);
      expect(text).not.toContain('orders-prod');
    }
  });
});

describe('the sandbox', () => {
  it("its targets file refers to nothing outside the repository, and help examples name its 'demo'", () => {
    const text = readFileSync(TARGETS_FILE, 'utf8');
    for (const outside of ['..' + '/shared', '/' + 'work/', '/' + 'root/', 'DESIGN.md']) expect(text).not.toContain(outside);
    const targets = loadTargets(TARGETS_FILE, { DEMO_URL: 'postgres://postgres@127.0.0.1:5432/dbops_demo' });
    const registry = defaultRegistry();
    const all = [helpMessage(registry, targets), ...VERBS.map((v) => verbHelpMessage(registry, v, targets))].map((m) => textOf(m)).join('\n');
    const named = all.match(/\/db [a-z]+ [^\s`]+/g)!.filter((e) => !/[<[]|&lt;/.test(e) && e !== '/db audit verify').flatMap(targetsNamed);
    expect(named.length).toBeGreaterThan(VERBS.length);
    for (const [verb, target] of named) expect(`${verb} ${target}`).toBe(`${verb} demo`);
  });
});
