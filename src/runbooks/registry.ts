import type { Runbook } from './runbook.js';

export class Registry {
  readonly #byName = new Map<string, Runbook>();
  constructor(runbooks: Runbook[]) {
    for (const rb of runbooks) this.#byName.set(rb.name, rb);
  }
  get(name: string): Runbook | undefined {
    return this.#byName.get(name);
  }
  verbs(): string[] {
    return [...this.#byName.keys()];
  }
  all(): Runbook[] {
    return [...this.#byName.values()];
  }
}
