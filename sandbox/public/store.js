// The page's copy of the workspace: messages per channel, open modals, demo sessions. Events are
// upserts keyed by ts / view id, so replaying one twice (snapshot + live stream) is harmless.

export class Workspace {
  constructor() {
    /** @type {Map<string, Map<string, any>>} channel → ts → message */
    this.messages = new Map();
    /** @type {Map<string, any>} view id → StoredView */
    this.views = new Map();
    this.sessions = [];
    this.users = [];
    this.channels = [];
    this.historyNote = null;
  }

  load(snapshot) {
    this.users = snapshot.users;
    this.channels = snapshot.channels;
    this.messages = new Map();
    for (const m of snapshot.messages) this.upsert(m);
    this.views = new Map(snapshot.views.map((v) => [v.id, v]));
    this.sessions = snapshot.sessions;
    /** What the bot's state database keeps from earlier sessions (null: it started clean). */
    this.historyNote = snapshot.historyNote ?? null;
  }

  upsert(m) {
    if (!this.messages.has(m.channel)) this.messages.set(m.channel, new Map());
    this.messages.get(m.channel).set(m.ts, m);
  }

  remove(m) {
    this.messages.get(m.channel)?.delete(m.ts);
  }

  view(event) {
    if (event.action === 'close') this.views.delete(event.view.id);
    else this.views.set(event.view.id, event.view);
  }

  /** Messages of a channel that `me` can see, oldest first. */
  visible(channel, me) {
    const all = [...(this.messages.get(channel)?.values() ?? [])];
    return all.filter((m) => m.ephemeralTo === undefined || m.ephemeralTo === me).sort((a, b) => Number(a.ts) - Number(b.ts));
  }

  /** Top level of a channel: not thread replies (unless broadcast). */
  topLevel(channel, me) {
    return this.visible(channel, me).filter((m) => !m.thread_ts || m.thread_ts === m.ts || m.reply_broadcast);
  }

  thread(channel, ts, me) {
    return this.visible(channel, me).filter((m) => m.ts === ts || m.thread_ts === ts);
  }

  /** The modal on top for `me`: the newest open StoredView ({ id, user, view }) shown to them. */
  topView(me) {
    const mine = [...this.views.values()].filter((v) => !v.user || v.user === me);
    return mine.sort((a, b) => (a.id < b.id ? -1 : 1)).at(-1);
  }

  /** For the renderers: id → {name}, id → channel name. */
  renderContext() {
    return {
      users: Object.fromEntries(this.users.map((u) => [u.id, { name: u.name }])),
      channels: Object.fromEntries(this.channels.map((c) => [c.id, c.name])),
    };
  }
}
