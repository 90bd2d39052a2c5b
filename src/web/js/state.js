// Everything the client knows, updated from READY and dispatch events, with
// one change notification. Unread counts live only here (the server keeps no
// read states yet): they start at zero on every page load.

import { cmpId } from './dom.js';

export const state = {
  me: null,
  guilds: new Map(), // id → {guild, roles: Map, member, members: Map, memberCount, large}
  channels: new Map(), // id → Channel (guild channels, DMs, group DMs)
  users: new Map(), // id → User or Author
  presences: new Map(), // user id → status
  messages: new Map(), // channel id → Timeline (only channels that were opened)
  unread: new Map(), // channel id → {count, mentions}
  typing: new Map(), // channel id → Map(user id → expires at ms)
  relationships: new Map(), // user id → 'friend' | 'blocked' | 'incoming' | 'outgoing'
  settings: null, // privacy settings (docs/protocol.md, PrivacySettings)
  current: { guildId: null, channelId: null }, // guildId '@me' for DMs
  connection: 'connecting',
};

const listeners = new Set();
let scheduled = false;
const pendingKinds = new Set();

/** Subscribe to changes; `fn(kinds)` gets the set of things that changed. */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Note a change; listeners run once per animation frame at most. */
export function changed(...kinds) {
  kinds.forEach((k) => pendingKinds.add(k));
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(() => {
    scheduled = false;
    const kinds = new Set(pendingKinds);
    pendingKinds.clear();
    listeners.forEach((fn) => fn(kinds));
  });
}

export function rememberUser(u) {
  if (!u?.id) return;
  const old = state.users.get(u.id);
  // An Author has no created_at; do not let it replace a full User record.
  state.users.set(u.id, old && !('created_at' in u) ? { ...old, ...u, created_at: old.created_at } : { ...old, ...u });
}

/** The name to show for a user, in a guild if given (nickname first). */
export function displayName(userId, guildId) {
  const m = guildId ? state.guilds.get(guildId)?.members.get(userId) : null;
  const u = m?.user || state.users.get(userId);
  return m?.nick || u?.display_name || u?.username || 'unknown user';
}

/** A DM's title: its name, or its other recipients' names. */
export function channelTitle(c) {
  if (!c) return '';
  if (c.kind === 'dm' || c.kind === 'group_dm') {
    if (c.name) return c.name;
    const others = c.recipients.filter((id) => id !== state.me?.id);
    return others.map((id) => displayName(id)).join(', ') || 'Just you';
  }
  return c.name || '';
}

export function guildChannels(guildId) {
  return [...state.channels.values()].filter((c) => c.guild_id === guildId).sort(byPosition);
}

export function dmChannels() {
  return [...state.channels.values()]
    .filter((c) => c.guild_id === null)
    .sort((a, b) => cmpId(lastActivity(b), lastActivity(a)));
}

function lastActivity(c) {
  const t = state.messages.get(c.id);
  const last = t?.list.findLast((m) => m.id);
  return last?.id || c.id;
}

export function byPosition(a, b) {
  return a.position - b.position || cmpId(a.id, b.id);
}

function addGuildState(gs) {
  const members = state.guilds.get(gs.guild.id)?.members || new Map();
  members.set(gs.member.user.id, gs.member);
  state.guilds.set(gs.guild.id, {
    guild: gs.guild,
    roles: new Map(gs.roles.map((r) => [r.id, r])),
    member: gs.member,
    members,
    memberCount: gs.member_count,
    large: gs.large,
  });
  for (const c of [...state.channels.values()]) if (c.guild_id === gs.guild.id) state.channels.delete(c.id);
  gs.channels.forEach((c) => state.channels.set(c.id, c));
  gs.presences.forEach((p) => state.presences.set(p.user_id, p.status));
  rememberUser(gs.member.user);
}

function forgetGuild(id) {
  state.guilds.delete(id);
  for (const c of [...state.channels.values()]) if (c.guild_id === id) forgetChannel(c.id);
}

function forgetChannel(id) {
  state.channels.delete(id);
  state.messages.delete(id);
  state.unread.delete(id);
  state.typing.delete(id);
}

/** Apply READY: a whole new picture (a re-identify replaces everything). */
export function applyReady(d) {
  state.me = d.user;
  rememberUser(d.user);
  state.guilds.clear();
  state.channels.clear();
  state.presences.clear();
  d.guilds.forEach(addGuildState);
  d.dm_channels.forEach((c) => state.channels.set(c.id, c));
  d.dm_users.forEach(rememberUser);
  state.relationships.clear();
  (d.relationships || []).forEach((r) => {
    rememberUser(r.user);
    state.relationships.set(r.id, r.type);
  });
  state.settings = d.settings || null;
  // Drop what belongs to channels we can no longer see.
  for (const id of [...state.messages.keys()]) if (!state.channels.has(id)) forgetChannel(id);
  changed('guilds', 'channels', 'members', 'messages', 'relationships');
}

/** How the signed-in user stands with `userId` (undefined: no relationship). */
export function relationship(userId) {
  return state.relationships.get(userId);
}

/** Whether the signed-in user blocked `userId`. */
export function isBlocked(userId) {
  return state.relationships.get(userId) === 'blocked';
}

/** Friend requests waiting for the signed-in user's answer. */
export function pendingIncoming() {
  let n = 0;
  for (const t of state.relationships.values()) if (t === 'incoming') n += 1;
  return n;
}

/** Apply one dispatch. Returns the kinds of state it changed. */
export function applyDispatch(t, d) {
  switch (t) {
    case 'GUILD_CREATE':
      addGuildState(d);
      return changed('guilds', 'channels', 'members');
    case 'GUILD_UPDATE': {
      const g = state.guilds.get(d.id);
      if (g) g.guild = d;
      return changed('guilds');
    }
    case 'GUILD_DELETE':
      forgetGuild(d.id);
      return changed('guilds', 'channels', 'members');
    case 'CHANNEL_CREATE':
    case 'CHANNEL_UPDATE':
      state.channels.set(d.id, d);
      return changed('channels');
    case 'CHANNEL_DELETE':
      forgetChannel(d.id);
      return changed('channels');
    case 'GUILD_MEMBER_ADD':
    case 'GUILD_MEMBER_UPDATE': {
      const g = state.guilds.get(d.guild_id);
      rememberUser(d.user);
      if (!g) return undefined;
      if (t === 'GUILD_MEMBER_ADD' && !g.members.has(d.user.id)) g.memberCount += 1;
      g.members.set(d.user.id, d);
      if (d.user.id === state.me?.id) g.member = d;
      return changed('members', 'messages', 'channels');
    }
    case 'GUILD_MEMBER_REMOVE': {
      const g = state.guilds.get(d.guild_id);
      if (g && g.members.delete(d.user.id)) g.memberCount = Math.max(0, g.memberCount - 1);
      return changed('members');
    }
    case 'GUILD_MEMBERS_CHUNK': {
      const g = state.guilds.get(d.guild_id);
      if (!g) return undefined;
      d.members.forEach((m) => {
        g.members.set(m.user.id, m);
        rememberUser(m.user);
      });
      d.presences.forEach((p) => state.presences.set(p.user_id, p.status));
      return changed('members');
    }
    case 'GUILD_ROLE_CREATE':
    case 'GUILD_ROLE_UPDATE':
      state.guilds.get(d.guild_id)?.roles.set(d.role.id, d.role);
      return changed('roles', 'members', 'channels');
    case 'GUILD_ROLE_DELETE': {
      const g = state.guilds.get(d.guild_id);
      if (!g) return undefined;
      g.roles.delete(d.role_id);
      // No GUILD_MEMBER_UPDATE follows (protocol.md): drop the id ourselves.
      for (const m of g.members.values()) m.roles = m.roles.filter((r) => r !== d.role_id);
      return changed('roles', 'members', 'channels');
    }
    case 'PRESENCE_UPDATE':
      state.presences.set(d.user_id, d.status);
      return changed('members', 'channels');
    case 'TYPING_START': {
      if (d.user_id === state.me?.id) return undefined;
      if (!state.typing.has(d.channel_id)) state.typing.set(d.channel_id, new Map());
      state.typing.get(d.channel_id).set(d.user_id, Date.now() + 8000);
      return changed('typing');
    }
    case 'RELATIONSHIP_ADD':
      rememberUser(d.user);
      state.relationships.set(d.id, d.type);
      return changed('relationships', 'messages', 'channels');
    case 'RELATIONSHIP_REMOVE':
      state.relationships.delete(d.id);
      return changed('relationships', 'messages', 'channels');
    case 'USER_SETTINGS_UPDATE':
      state.settings = d;
      return changed('settings');
    case 'USER_UPDATE':
      state.me = d;
      rememberUser(d);
      return changed('members', 'messages');
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------- messages

/**
 * The messages of one channel, oldest first. Entries with `pending` have no
 * id yet; they are matched to the stored message by nonce. Nothing is ever
 * in the list twice: ids and nonces are both indexed.
 */
export class Timeline {
  constructor() {
    this.list = [];
    this.byId = new Map();
    this.byNonce = new Map();
    this.loaded = false; // the newest page was fetched
    this.hasMore = true; // older history exists
    this.loadingOlder = false;
    this.hasNewer = false; // showing older history cut off from the present (after a jump)
  }

  /** Insert or confirm a stored message; returns true if it was new. */
  add(m) {
    if (this.byId.has(m.id)) return false;
    // Cut off from the present (viewing history around an old message):
    // live messages wait until "Jump to present" reloads the newest page.
    if (this.hasNewer && this.list.length && cmpId(m.id, this.lastId()) > 0) return false;
    rememberUser(m.author);
    const mine = m.nonce && m.author.id === state.me?.id ? this.byNonce.get(m.nonce) : null;
    if (mine && !mine.id) {
      // Our own pending message: confirmed, in place of the pending entry.
      this.list.splice(this.list.indexOf(mine), 1);
    }
    const entry = { ...m };
    if (m.nonce) this.byNonce.set(m.nonce, entry);
    this.byId.set(m.id, entry);
    // Stored messages are sorted by id; pending ones stay at the end.
    let i = this.list.length;
    while (i > 0 && (!this.list[i - 1].id || cmpId(this.list[i - 1].id, m.id) > 0)) i -= 1;
    this.list.splice(i, 0, entry);
    return !mine;
  }

  /** Drop a stored message (deleted); true if it was here. */
  remove(id) {
    const m = this.byId.get(id);
    if (!m) return false;
    this.byId.delete(id);
    if (m.nonce) this.byNonce.delete(m.nonce);
    this.list.splice(this.list.indexOf(m), 1);
    return true;
  }

  /** Forget everything (to show history around an old message instead). */
  reset() {
    this.list = [];
    this.byId.clear();
    this.byNonce.clear();
    this.loaded = false;
    this.hasMore = true;
    this.hasNewer = false;
  }

  addPending(p) {
    this.byNonce.set(p.nonce, p);
    this.list.push(p);
  }

  pending() {
    return this.list.filter((m) => !m.id);
  }

  lastId() {
    return this.list.findLast((m) => m.id)?.id || null;
  }

  firstId() {
    return this.list.find((m) => m.id)?.id || null;
  }
}

export function timeline(channelId) {
  if (!state.messages.has(channelId)) state.messages.set(channelId, new Timeline());
  return state.messages.get(channelId);
}

/**
 * Whether a message mentions the signed-in user: directly, through one of
 * their roles (mention_roles), or by a pinging @everyone/@here.
 */
export function mentionsMe(m) {
  if (!state.me || !m) return false;
  const me = state.me.id;
  if (m.mention_everyone) return true;
  if ((m.mentions || []).some((u) => u.id === me)) return true;
  if (typeof m.content === 'string' && (m.content.includes(`<@${me}>`) || m.content.includes(`<@!${me}>`))) return true;
  const roles = m.guild_id ? state.guilds.get(m.guild_id)?.member?.roles || [] : [];
  return (m.mention_roles || []).some((r) => roles.includes(r));
}

/** The key of a reaction's emoji: `name:id` for a custom emoji, else the emoji itself. */
export function emojiKey(e) {
  return e.id ? `${e.name}:${e.id}` : e.name;
}

/** Find a loaded message by channel and id. */
export function findMessage(channelId, id) {
  return state.messages.get(channelId)?.byId.get(id) || null;
}

/**
 * Apply a message event (MESSAGE_UPDATE, MESSAGE_DELETE(_BULK), the reaction
 * events). Dispatches carry `me: false` on reactions; our own `me` is kept
 * from what we knew and from reaction events with our user id.
 */
export function applyMessageEvent(t, d) {
  const tl = state.messages.get(d.channel_id);
  if (!tl) return false;
  switch (t) {
    case 'MESSAGE_UPDATE': {
      const old = tl.byId.get(d.id);
      if (!old) return false;
      const mine = new Map((old.reactions || []).map((r) => [emojiKey(r.emoji), r.me]));
      const fresh = { ...d, reactions: (d.reactions || []).map((r) => ({ ...r, me: mine.get(emojiKey(r.emoji)) || false })) };
      // Keep the same object (the list holds it): copy the fields over.
      for (const k of Object.keys(old)) if (!(k in fresh) && k !== 'nonce') delete old[k];
      Object.assign(old, fresh);
      return true;
    }
    case 'MESSAGE_DELETE':
    case 'MESSAGE_DELETE_BULK': {
      const ids = new Set(d.ids || [d.id]);
      // Replies to a deleted message now say so ("Original message was deleted").
      for (const m of tl.list) {
        if (m.referenced_message && ids.has(m.referenced_message.id)) m.referenced_message = null;
      }
      return [...ids].map((id) => tl.remove(id)).some(Boolean) || true;
    }
    case 'MESSAGE_REACTION_ADD':
    case 'MESSAGE_REACTION_REMOVE': {
      const m = tl.byId.get(d.message_id);
      if (!m) return false;
      m.reactions = m.reactions || [];
      const key = emojiKey(d.emoji);
      let r = m.reactions.find((x) => emojiKey(x.emoji) === key);
      if (!r && t === 'MESSAGE_REACTION_ADD') {
        r = { emoji: d.emoji, count: 0, me: false };
        m.reactions.push(r);
      }
      if (!r) return false;
      if (typeof d.count === 'number') r.count = d.count;
      else r.count += t === 'MESSAGE_REACTION_ADD' ? 1 : -1;
      if (d.user_id === state.me?.id) r.me = t === 'MESSAGE_REACTION_ADD';
      if (r.count <= 0) m.reactions = m.reactions.filter((x) => x !== r);
      return true;
    }
    case 'MESSAGE_REACTION_REMOVE_ALL': {
      const m = tl.byId.get(d.message_id);
      if (m) m.reactions = [];
      return Boolean(m);
    }
    case 'MESSAGE_REACTION_REMOVE_EMOJI': {
      const m = tl.byId.get(d.message_id);
      if (!m) return false;
      const key = emojiKey(d.emoji);
      m.reactions = (m.reactions || []).filter((x) => emojiKey(x.emoji) !== key);
      return true;
    }
    default:
      return false;
  }
}

/** Count a message as unread unless its channel is on screen. */
export function countUnread(m) {
  if (m.author.id === state.me?.id) return;
  if (state.current.channelId === m.channel_id && document.visibilityState === 'visible') return;
  const u = state.unread.get(m.channel_id) || { count: 0, mentions: 0 };
  u.count += 1;
  // In a DM every message is for you, as in the chat apps people know.
  if (mentionsMe(m) || !m.guild_id) u.mentions += 1;
  state.unread.set(m.channel_id, u);
}

export function markRead(channelId) {
  if (state.unread.delete(channelId)) changed('channels', 'guilds');
}

/** Unread totals of a guild (or of the DMs with '@me'). */
export function guildUnread(guildId) {
  let count = 0;
  let mentions = 0;
  for (const [id, u] of state.unread) {
    const c = state.channels.get(id);
    if (!c) continue;
    if ((guildId === '@me' && c.guild_id === null) || c.guild_id === guildId) {
      count += u.count;
      mentions += u.mentions;
    }
  }
  return { count, mentions };
}

/** Users typing in a channel now (not me). */
export function typers(channelId) {
  const t = state.typing.get(channelId);
  if (!t) return [];
  const now = Date.now();
  for (const [id, until] of t) if (until < now) t.delete(id);
  return [...t.keys()];
}
