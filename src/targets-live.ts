import { ConfigError, loadTargets, type Target, type TargetsConfig } from './config.js';
import type { Logger } from './log.js';

/**
 * The targets file, swappable at run time (SIGHUP). Everything reads `deps.targets.targets`,
 * `deps.targets.approvers`, … per request; these views answer from the current file, so a reload
 * is one reference swap (atomic for every reader) and no caller changes.
 *
 * Two views over the same holder:
 * - `view` (the doors, approvals): exactly the current file. A removed target is unknown at once.
 * - `runView` (workers): like `view`, but `targets.get()` still finds a target removed by a reload,
 *   so a run already past its approval finishes on the definition it was approved under.
 */
export class LiveTargets {
  #current: TargetsConfig;
  readonly #retired = new Map<string, Target>();

  constructor(initial: TargetsConfig) {
    this.#current = initial;
  }

  get current(): TargetsConfig {
    return this.#current;
  }

  readonly view: TargetsConfig = this.#makeView(false);
  readonly runView: TargetsConfig = this.#makeView(true);

  #makeView(keepRetired: boolean): TargetsConfig {
    const self = this;
    const targets: ReadonlyMap<string, Target> = {
      get size() {
        return self.#current.targets.size;
      },
      get: (name) => self.#current.targets.get(name) ?? (keepRetired ? self.#retired.get(name) : undefined),
      has: (name) => self.#current.targets.has(name),
      keys: () => self.#current.targets.keys(),
      values: () => self.#current.targets.values(),
      entries: () => self.#current.targets.entries(),
      forEach: (fn, thisArg) => self.#current.targets.forEach((v, k) => fn.call(thisArg, v, k, targets)),
      [Symbol.iterator]: () => self.#current.targets[Symbol.iterator](),
    };
    return {
      get incidentChannel() {
        return self.#current.incidentChannel;
      },
      get approvers() {
        return self.#current.approvers;
      },
      get policy() {
        return self.#current.policy;
      },
      get channels() {
        return self.#current.channels;
      },
      targets,
    };
  }

  /** Swaps in a new, fully validated config. */
  replace(next: TargetsConfig): void {
    for (const [name, t] of this.#current.targets) if (!next.targets.has(name)) this.#retired.set(name, t);
    for (const name of next.targets.keys()) this.#retired.delete(name);
    this.#current = next;
  }

  /**
   * Reloads the file with the start-up loader. A bad file changes nothing and is reported on one
   * log line (every problem, joined); returns whether the new file is in effect.
   */
  reload(path: string, env: NodeJS.ProcessEnv, log: Logger): boolean {
    let next: TargetsConfig;
    try {
      next = loadTargets(path, env);
    } catch (err) {
      const why = err instanceof ConfigError ? err.problems.join('; ') : (err as Error).message;
      log.error({ path }, `targets reload failed; keeping the current targets: ${why}`);
      return false;
    }
    const before = new Set(this.#current.targets.keys());
    const after = [...next.targets.keys()];
    this.replace(next);
    log.info({ path, targets: after.length, added: after.filter((n) => !before.has(n)), removed: [...before].filter((n) => !next.targets.has(n)) }, 'targets reloaded');
    return true;
  }
}
