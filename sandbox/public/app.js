// The sandbox page: a Slack-like workspace drawn from the fake Slack's messages and modals,
// kept live by server-sent events. Everything it does goes through the sandbox server, which
// signs it like Slack would (see sandbox/web/api.ts).
import { post, getState } from './api.js';
import { el, mount } from './dom.js';
import { renderMessage } from './message.js';
import { Modals, actionOf, valueOf } from './modal.js';
import { Workspace } from './store.js';

const $ = (id) => document.getElementById(id);
const ws = new Workspace();
const ui = {
  me: new URLSearchParams(location.search).get('user') ?? 'U0REQUESTER',
  channel: new URLSearchParams(location.search).get('channel') ?? '',
  thread: /** @type {string | null} */ (null),
  unread: new Map(),
  flash: new Set(),
  history: [],
  historyAt: 0,
  /** Until then, new messages in the channel scroll it to the end (the answer to what was just sent). */
  followUntil: 0,
  /** Which channel/user the main pane last drew, and how many messages it had (for the marker). */
  drawnKey: '',
  drawnCount: 0,
};
/** How long after sending a command the channel follows what arrives (the answer, the request message). */
const FOLLOW_MS = 15_000;
const NEAR_BOTTOM_PX = 80;
const atBottom = (c) => c.scrollHeight - c.scrollTop - c.clientHeight < NEAR_BOTTOM_PX;
const ctx = () => ws.renderContext();
const modals = new Modals({ root: $('modal-root'), confirmRoot: $('confirm-root'), me: () => ui.me, ctx, onAction: (a) => void act(a) });

// ---- drawing ------------------------------------------------------------------------------

let scheduled = false;
function redraw() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    drawSidebar();
    drawChannel();
    drawThread();
    modals.show(ws.topView(ui.me)?.view);
    ui.flash.clear();
  });
}

function drawSidebar() {
  mount($('channels'), []);
  for (const c of ws.channels) {
    const unread = ui.unread.get(c.id) ?? 0;
    $('channels').append(
      el(
        'li',
        { class: `${c.id === ui.channel ? 'active' : ''} ${unread ? 'unread' : ''}`, 'data-channel-id': c.id },
        el('button', { type: 'button', onclick: () => switchChannel(c.id) }, el('span', { text: `# ${c.name}` }), unread ? el('span', { class: 'badge', text: String(unread) }) : null),
      ),
    );
  }
  const channel = ws.channels.find((c) => c.id === ui.channel);
  $('channel-name').textContent = channel ? `# ${channel.name}` : '';
  $('channel-topic').textContent = channel?.name === 'incidents' ? 'approval cards and announcements' : 'ask dbops here: /db help';
  $('composer-input').placeholder = channel ? `Message #${channel.name} — try /db help` : 'Message';
  const me = ws.users.find((u) => u.id === ui.me);
  $('user-note').textContent = me ? `${me.role}${me.approver ? ' · can approve' : ' · not an approver'}` : '';
  $('history-note').hidden = !ws.historyNote;
  $('history-note').textContent = ws.historyNote ?? '';
  const sessions = $('sessions');
  sessions.replaceChildren(...ws.sessions.map((s) => el('li', { title: s.state, text: `pid ${s.pid} · ${s.application} · ${s.state}` })));
  if (!ws.sessions.length) sessions.append(el('li', { text: 'no demo sessions open' }));
}

/**
 * The channel pane: it follows new messages when the reader is at the end or has just sent a command
 * (so the answer is in view); otherwise it stays put and a "New messages" marker says more arrived.
 */
function drawChannel() {
  const container = $('messages');
  const list = ws.topLevel(ui.channel, ui.me);
  const key = `${ui.channel}|${ui.me}`;
  const switched = key !== ui.drawnKey;
  const arrived = !switched && list.length > ui.drawnCount;
  const follow = switched || atBottom(container) || Date.now() < ui.followUntil;
  drawMessages(container, list, false, follow);
  ui.drawnKey = key;
  ui.drawnCount = list.length;
  if (follow) $('new-messages').hidden = true;
  else if (arrived) $('new-messages').hidden = false;
}

function drawMessages(container, list, inThread, follow = atBottom(container)) {
  const nearBottom = follow;
  const scrollTop = container.scrollTop;
  const c = { ...ctx(), errors: [] };
  const nodes = list.map((m) => renderMessage(m, c, { inThread }));
  if (c.errors.length) console.warn('render errors', c.errors);
  mount(container, nodes);
  if (!list.length && !inThread) container.append(el('div', { class: 'empty', text: 'No messages yet. Type /db help below.' }));
  for (const ts of ui.flash) container.querySelector(`.message[data-ts="${CSS.escape(ts)}"]`)?.classList.add('flash');
  container.scrollTop = nearBottom ? container.scrollHeight : scrollTop;
}

function drawThread() {
  const pane = $('thread');
  const list = ui.thread ? ws.thread(ui.channel, ui.thread, ui.me) : [];
  pane.hidden = list.length === 0;
  if (list.length) drawMessages($('thread-messages'), list, true);
}

function switchChannel(id) {
  ui.channel = id;
  ui.thread = null;
  ui.unread.delete(id);
  redraw();
}

// ---- doing ----------------------------------------------------------------------------------

async function act(action) {
  await post('action', { user: ui.me, ...action });
}

/** Slack permalinks (…/archives/C…/p1700000000000100[?thread_ts=…]) open here, not on the fake. */
function openPermalink(href) {
  let url;
  try {
    url = new URL(href);
  } catch {
    return false;
  }
  const m = /^\/archives\/([A-Z0-9]+)\/p(\d{10})(\d{6})$/.exec(url.pathname);
  if (!m || !ws.channels.some((c) => c.id === m[1])) return false;
  const ts = `${m[2]}.${m[3]}`;
  switchChannel(m[1]);
  ui.thread = url.searchParams.get('thread_ts') ?? (ws.thread(m[1], ts, ui.me).length > 1 ? ts : null);
  ui.flash.add(ts);
  redraw();
  requestAnimationFrame(() => requestAnimationFrame(() => document.querySelector(`.message[data-ts="${CSS.escape(ts)}"]`)?.scrollIntoView({ block: 'center' })));
  return true;
}

function onMessagesClick(e) {
  const target = /** @type {HTMLElement} */ (e.target);
  const link = target.closest('a[href]');
  if (link && openPermalink(link.href)) {
    e.preventDefault();
    return;
  }
  const replies = target.closest('[data-open-thread]');
  if (replies) {
    ui.thread = replies.dataset.openThread;
    redraw();
    return;
  }
  const button = target.closest('button[data-action-id]');
  if (!button) return;
  const message = button.closest('.message');
  void (async () => {
    if (button.dataset.confirmTitle && !(await modals.confirm(button))) return;
    if (button.dataset.url) window.open(button.dataset.url, '_blank', 'noopener');
    button.disabled = true;
    try {
      await act({ ...actionOf(button), channel: message.dataset.channel, messageTs: message.dataset.ts });
    } finally {
      button.disabled = false;
    }
  })();
}

function onMessagesChange(e) {
  const target = /** @type {HTMLElement} */ (e.target).closest('[data-dispatch]');
  const message = target?.closest('.message');
  if (target && message) void act({ ...actionOf(target), selected: valueOf(target), channel: message.dataset.channel, messageTs: message.dataset.ts });
}

async function send(text) {
  ui.followUntil = Date.now() + FOLLOW_MS;
  ui.history.push(text);
  ui.historyAt = ui.history.length;
  const answer = await post('command', { user: ui.me, channel: ui.channel, text });
  if (!answer.ok) console.warn('command failed', answer);
}

function setupComposer() {
  const input = $('composer-input');
  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    void send(text);
  });
  input.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowUp' && e.key !== 'ArrowDown') return;
    if (!ui.history.length) return;
    ui.historyAt = Math.max(0, Math.min(ui.history.length, ui.historyAt + (e.key === 'ArrowUp' ? -1 : 1)));
    input.value = ui.history[ui.historyAt] ?? '';
    e.preventDefault();
  });
  const examples = ['/db help', '/db status demo', '/db vacuum demo orders', '/db vacuum demo orders --full', '/db connections demo', '/db kill demo idle', '/db runs'];
  $('hints').replaceChildren(
    el('span', { text: 'Try:' }),
    ...examples.map((x) => el('button', { type: 'button', class: 'hint-chip', text: x, onclick: () => ((input.value = x), input.focus()) })),
  );
}

function setupSidebar() {
  const switcher = $('user-switcher');
  switcher.addEventListener('change', () => {
    ui.me = switcher.value;
    modals.show(undefined);
    redraw();
  });
  document.querySelectorAll('[data-demo]').forEach((b) => b.addEventListener('click', () => void post('demo', { user: ui.me, channel: ui.channel, kind: b.dataset.demo, op: 'open' })));
  document.querySelectorAll('[data-demo-rows]').forEach((b) => b.addEventListener('click', () => void post('demo', { user: ui.me, channel: ui.channel, op: 'delete-rows' })));
  document.querySelectorAll('[data-demo-close]').forEach((b) => b.addEventListener('click', () => void post('demo', { user: ui.me, channel: ui.channel, op: 'close' })));
  $('thread-close').addEventListener('click', () => {
    ui.thread = null;
    redraw();
  });
  const channel = $('messages');
  $('new-messages').addEventListener('click', () => {
    channel.scrollTop = channel.scrollHeight;
    $('new-messages').hidden = true;
  });
  channel.addEventListener('scroll', () => {
    if (atBottom(channel)) $('new-messages').hidden = true;
  });
  // Scrolling up to read means "stop following", even right after sending.
  channel.addEventListener('wheel', (e) => {
    if (e.deltaY < 0) ui.followUntil = 0;
  });
  for (const id of ['messages', 'thread-messages']) {
    $(id).addEventListener('click', onMessagesClick);
    $(id).addEventListener('change', onMessagesChange);
  }
}

function fillUserSwitcher() {
  const switcher = $('user-switcher');
  const people = ws.users.filter((u) => !u.bot);
  if (!people.some((u) => u.id === ui.me)) ui.me = people[0]?.id ?? ui.me;
  switcher.replaceChildren(...people.map((u) => el('option', { value: u.id, selected: u.id === ui.me, text: `${u.name}${u.approver ? ' (approver)' : ''}` })));
}

// ---- live ----------------------------------------------------------------------------------

function connect() {
  const source = new EventSource('/api/events');
  let buffer = [];
  let loading = true;
  const apply = (type, data) => {
    if (type === 'message' || type === 'update') {
      ws.upsert(data);
      if (type === 'update') ui.flash.add(data.ts);
      const top = !data.thread_ts || data.reply_broadcast;
      const mine = data.ephemeralTo === undefined || data.ephemeralTo === ui.me;
      if (type === 'message' && top && mine && data.channel !== ui.channel) ui.unread.set(data.channel, (ui.unread.get(data.channel) ?? 0) + 1);
    } else if (type === 'delete') ws.remove(data);
    else if (type === 'view') ws.view(data);
    else if (type === 'sessions') ws.sessions = data;
  };
  for (const type of ['message', 'update', 'delete', 'view', 'sessions']) {
    source.addEventListener(type, (e) => {
      const data = JSON.parse(/** @type {MessageEvent} */ (e).data);
      if (loading) buffer.push([type, data]);
      else {
        apply(type, data);
        redraw();
      }
    });
  }
  source.addEventListener('open', async () => {
    loading = true;
    buffer = [];
    const snapshot = await getState();
    ws.load(snapshot);
    for (const [type, data] of buffer) apply(type, data);
    loading = false;
    if (!ws.channels.some((c) => c.id === ui.channel)) ui.channel = ws.channels.find((c) => c.name === 'ops')?.id ?? ws.channels[0]?.id ?? '';
    fillUserSwitcher();
    $('connection').textContent = '● live';
    $('connection').className = 'connection live';
    document.body.dataset.ready = 'true';
    redraw();
  });
  source.addEventListener('error', () => {
    $('connection').textContent = 'reconnecting…';
    $('connection').className = 'connection';
  });
}

setupComposer();
setupSidebar();
connect();
