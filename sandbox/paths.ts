// Where the sandbox's files are, whether this runs from sandbox/*.ts (tests) or dist/sandbox/*.js.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The sandbox/ source folder (holds public/ and dbops.sandbox.yaml). */
export const SANDBOX_DIR = [here, resolve(here, '../../sandbox')].find((d) => existsSync(join(d, 'public', 'index.html'))) ?? here;
export const PUBLIC_DIR = join(SANDBOX_DIR, 'public');
export const TARGETS_FILE = join(SANDBOX_DIR, 'dbops.sandbox.yaml');
