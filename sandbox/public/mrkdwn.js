// Slack mrkdwn → vnodes: *bold*, _italic_, ~strike~, `code`, ```code blocks```, > quotes,
// <url|text> links, <@U…> / <#C…> / <!subteam^S…> mentions, <!date^…|fallback>, :emoji:.
// Slack text arrives entity-encoded (&amp; &lt; &gt;): decoded only at the leaves, as text.
import { h, safeHref } from './vnode.js';

const EMOJI = {
  mag: '🔍', wrench: '🔧', rotating_light: '🚨', hourglass_flowing_sand: '⏳', hourglass: '⌛', inbox_tray: '📥',
  arrows_counterclockwise: '🔄', white_check_mark: '✅', heavy_check_mark: '✔️', x: '❌', no_entry: '⛔',
  alarm_clock: '⏰', no_entry_sign: '🚫', warning: '⚠️', white_circle: '⚪', large_green_circle: '🟢',
  red_circle: '🔴', large_yellow_circle: '🟡', lock: '🔒', unlock: '🔓', skull: '💀', fire: '🔥', zap: '⚡',
  information_source: 'ℹ️', bulb: '💡', clipboard: '📋', memo: '📝', mega: '📣', loudspeaker: '📢',
  broom: '🧹', hammer_and_wrench: '🛠️', camera: '📷', floppy_disk: '💾', package: '📦', rocket: '🚀',
  eyes: '👀', thumbsup: '👍', '+1': '👍', thumbsdown: '👎', tada: '🎉', stopwatch: '⏱️', clock1: '🕐',
  construction: '🚧', link: '🔗', electric_plug: '🔌', card_file_box: '🗃️', file_cabinet: '🗄️',
  chart_with_upwards_trend: '📈', chart_with_downwards_trend: '📉', bar_chart: '📊', hourglass_done: '⌛',
  gear: '⚙️', shield: '🛡️', key: '🔑', question: '❓', exclamation: '❗', heavy_minus_sign: '➖',
  arrow_right: '➡️', arrow_forward: '▶️', calendar: '📅', wastebasket: '🗑️', repeat: '🔁', recycle: '♻️', sleeping: '😴', snail: '🐌', traffic_light: '🚥',
};

/** &amp; &lt; &gt; → & < > (inside code too: the encoding is Slack's transport, not markup). */
export function decode(text) {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** Plain text as shown: decoded, then :shortcode: → emoji (unknown codes stay as typed). */
export function leafText(text) {
  return emoji(decode(text));
}

export function emoji(text) {
  return text.replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] ?? m);
}

/**
 * @param {string} text mrkdwn as Slack receives it
 * @param {{ users?: Record<string, {name: string}>, channels?: Record<string, string>, now?: number }} ctx
 * @returns {Array<import('./vnode.js').VNode | string>}
 */
export function mrkdwn(text, ctx = {}) {
  const out = [];
  const re = /```([\s\S]*?)```/g;
  let last = 0;
  let m;
  while ((m = re.exec(text)) !== null) {
    out.push(...lines(text.slice(last, m.index), ctx));
    out.push(h('pre', { class: 'code-block' }, decode(m[1].replace(/^\n/, ''))));
    last = m.index + m[0].length;
  }
  out.push(...lines(text.slice(last), ctx));
  return out;
}

/** Groups "> " lines into blockquotes; everything else is inline text (newlines kept by CSS). */
function lines(text, ctx) {
  if (text === '') return [];
  const out = [];
  const parts = text.split('\n');
  let quote = [];
  let plain = [];
  const flushPlain = () => {
    if (plain.length) out.push(...inline(plain.join('\n'), ctx, 0));
    plain = [];
  };
  const flushQuote = () => {
    if (quote.length) out.push(h('blockquote', {}, inline(quote.join('\n'), ctx, 0)));
    quote = [];
  };
  parts.forEach((line, i) => {
    const q = /^>\s?(.*)$/.exec(line);
    if (q) {
      if (plain.length) {
        plain.push('');
        flushPlain();
      }
      quote.push(q[1]);
    } else {
      flushQuote();
      plain.push(line);
    }
    if (i === parts.length - 1) {
      flushQuote();
      flushPlain();
    }
  });
  return out;
}

const WORD = /[\p{L}\p{N}]/u;
const STYLE = { '*': 'b', _: 'i', '~': 's' };

function inline(s, ctx, depth) {
  const out = [];
  let buf = '';
  const flush = () => {
    if (buf) out.push(leafText(buf));
    buf = '';
  };
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === '`') {
      const j = s.indexOf('`', i + 1);
      if (j > i + 1) {
        flush();
        out.push(h('code', {}, decode(s.slice(i + 1, j))));
        i = j + 1;
        continue;
      }
    } else if (c === '<') {
      const j = s.indexOf('>', i + 1);
      if (j > i + 1 && !s.slice(i + 1, j).includes('<')) {
        flush();
        out.push(entity(s.slice(i + 1, j), ctx));
        i = j + 1;
        continue;
      }
    } else if (c in STYLE && depth < 4 && (i === 0 || !WORD.test(s[i - 1])) && s[i - 1] !== c) {
      const j = closing(s, i + 1, c);
      if (j > 0) {
        flush();
        out.push(h(STYLE[c], {}, inline(s.slice(i + 1, j), ctx, depth + 1)));
        i = j + 1;
        continue;
      }
    }
    buf += c;
    i += 1;
  }
  flush();
  return out;
}

/** Index of the delimiter closing a span opened just before `from`, or -1. Spans stay on one line. */
function closing(s, from, c) {
  if (from >= s.length || /\s/.test(s[from]) || s[from] === c) return -1;
  for (let k = from; k < s.length; k++) {
    const ch = s[k];
    if (ch === '\n') return -1;
    if (ch === '`' || ch === '<') {
      const end = s.indexOf(ch === '`' ? '`' : '>', k + 1);
      if (end > k) {
        k = end;
        continue;
      }
    }
    if (ch === c && !/\s/.test(s[k - 1]) && (k + 1 === s.length || !WORD.test(s[k + 1]))) return k;
  }
  return -1;
}

function entity(inner, ctx) {
  const bar = inner.indexOf('|');
  const target = bar >= 0 ? inner.slice(0, bar) : inner;
  const label = bar >= 0 ? inner.slice(bar + 1) : '';
  if (/^@[UW][A-Z0-9]+$/.test(target)) {
    const id = target.slice(1);
    const name = ctx.users?.[id]?.name ?? (label ? leafText(label) : id);
    return h('span', { class: 'mention', 'data-user': id, title: id }, `@${name}`);
  }
  if (/^#[CGD][A-Z0-9]+$/.test(target)) {
    const id = target.slice(1);
    const name = ctx.channels?.[id] ?? (label ? leafText(label) : id);
    return h('span', { class: 'mention channel', 'data-channel': id }, `#${name}`);
  }
  if (target.startsWith('!subteam^')) return h('span', { class: 'mention' }, label ? leafText(label) : `@${target.slice(9)}`);
  if (/^!(here|channel|everyone)$/.test(target)) return h('span', { class: 'mention' }, `@${target.slice(1)}`);
  if (target.startsWith('!date^')) {
    const [, ts, format = '{date_num} {time}', link] = target.split('^');
    const formatted = formatDate(Number(ts), format, ctx.now ?? Date.now());
    const text = formatted ?? leafText(label);
    const href = link ? safeHref(leafText(link)) : undefined;
    return href ? h('a', { href, target: '_blank', rel: 'noopener noreferrer', class: 'date' }, text) : h('time', { class: 'date', title: leafText(label) }, text);
  }
  const href = safeHref(leafText(target));
  if (href) return h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, label ? leafText(label) : href);
  return leafText(`<${inner}>`);
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const ord = (n) => `${n}${[11, 12, 13].includes(n % 100) ? 'th' : ['th', 'st', 'nd', 'rd'][n % 10] ?? 'th'}`;
const pad = (n) => String(n).padStart(2, '0');

/** Slack's <!date^…> tokens in the viewer's local time; undefined when ts is not a number. */
export function formatDate(tsSec, format, now) {
  if (!Number.isFinite(tsSec)) return undefined;
  const d = new Date(tsSec * 1000);
  const dayDiff = Math.round((startOfDay(d) - startOfDay(new Date(now))) / 86_400_000);
  const pretty = dayDiff === 0 ? 'Today' : dayDiff === -1 ? 'Yesterday' : dayDiff === 1 ? 'Tomorrow' : undefined;
  const hours = d.getHours() % 12 || 12;
  const ampm = d.getHours() < 12 ? 'AM' : 'PM';
  const tokens = {
    date_num: `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`,
    date: `${MONTHS[d.getMonth()]} ${ord(d.getDate())}, ${d.getFullYear()}`,
    date_short: `${MONTHS[d.getMonth()].slice(0, 3)} ${d.getDate()}, ${d.getFullYear()}`,
    date_long: `${DAYS[d.getDay()]}, ${MONTHS[d.getMonth()]} ${ord(d.getDate())}, ${d.getFullYear()}`,
    time: `${hours}:${pad(d.getMinutes())} ${ampm}`,
    time_secs: `${hours}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${ampm}`,
    ago: ago(now - d.getTime()),
  };
  tokens.date_pretty = pretty ?? tokens.date;
  tokens.date_short_pretty = pretty ?? tokens.date_short;
  tokens.date_long_pretty = pretty ?? tokens.date_long;
  return format.replace(/\{(\w+)\}/g, (m, k) => tokens[k] ?? m);
}

function startOfDay(d) {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

function ago(ms) {
  const future = ms < 0;
  const s = Math.abs(ms) / 1000;
  const [n, unit] = s < 60 ? [Math.round(s), 'second'] : s < 3600 ? [Math.round(s / 60), 'minute'] : s < 86400 ? [Math.round(s / 3600), 'hour'] : [Math.round(s / 86400), 'day'];
  const text = `${n} ${unit}${n === 1 ? '' : 's'}`;
  return future ? `in ${text}` : `${text} ago`;
}
