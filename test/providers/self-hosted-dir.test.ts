import { readFile, rm, writeFile } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectoryStore } from '../../src/providers/store-dir.js';
import { selfHostedSuite } from '../helpers/self-hosted-suite.js';

selfHostedSuite('directory', async () => {
  const root = mkdtempSync(join(tmpdir(), 'dbops-store-'));
  return {
    fixture: {
      location: root,
      store: new DirectoryStore(root),
      damage: async (name, edit) => writeFile(join(root, name), edit(await readFile(join(root, name)))),
    },
    stop: () => rm(root, { recursive: true, force: true }),
  };
});
