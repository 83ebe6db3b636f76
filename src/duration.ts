/** Durations as users type them (90s, 10m, 2h, 1d) and as messages show them; shared by every layer. */
import { badInput } from './errors.js';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `90s`, `10m`, `2h`, `1d` → seconds. Anything else is a clear error. */
export function parseDuration(text: string, flag = 'duration'): number {
  const m = /^(\d{1,6})([smhd])$/.exec(text.trim());
  if (!m) throw badInput(`\`${text.slice(0, 40)}\` is not a duration for --${flag}: use a number and a unit, like \`90s\`, \`10m\`, \`2h\` or \`1d\`.`);
  return Number(m[1]) * UNITS[m[2]!]!;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? ` ${s % 60}s` : ''}`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)}m` : ''}`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}
