import { z } from 'zod';
import { databaseSize, type DatabaseSize } from '../postgres/size.js';
import { code } from '../slack/blocks.js';
import { bullets, bytes, num } from './report-format.js';
import { defineRunbook } from './runbook.js';

const args = z.object({}).strict();
type Args = z.infer<typeof args>;

export const size = defineRunbook<Args, Record<string, never>>({
  name: 'size',
  brief: 'Database size and the largest tables',
  summary: 'Database size and the largest tables, each split into table, indexes and TOAST.',
  usage: '/db size <target>',
  examples: ['/db size orders-prod'],
  grammar: { positionals: [], flags: {} },
  args,
  risk: () => 'read',
  plan: async ({ target }) => ({ summary: `Sizes on ${target.name}`, steps: ['Read database and table sizes (read-only)'], facts: {}, display: [] }),
  steps: [{ name: 'size', run: async ({ session }) => ({ size: await session((c) => databaseSize(c, 15)) }) }],
  result: (outputs) => {
    const s = (outputs.size as { size: DatabaseSize }).size;
    return { headline: `${s.name} is ${bytes(s.bytes)}`, facts: [] };
  },
  report: (outputs, _f, _a, target) => {
    const s = (outputs.size as { size: DatabaseSize }).size;
    return [
      {
        fields: [
          { label: 'Database', value: s.name, code: true },
          { label: 'Size', value: bytes(s.bytes) },
          { label: 'Tables', value: num(s.tableCount) },
        ],
      },
      {
        title: `${target.name} · largest tables (total = table + indexes + TOAST)`,
        mrkdwn: bullets(
          s.tables,
          15,
          (t, i) => `*${i + 1}.* ${code(`${t.schema}.${t.name}`, 80)} *${bytes(t.totalBytes)}* = table ${bytes(t.tableBytes)} + indexes ${bytes(t.indexBytes)} + TOAST ${bytes(t.toastBytes)}${t.rows !== null ? ` · ~${num(t.rows)} rows` : ''}`,
          'no tables',
        ),
      },
    ];
  },
});
