// Entry point: the session token, routing by URL, the gateway and the
// actions the views call. Views render from `state` and call back here.

import * as api from './api.js';
import { Gateway, OP } from './gateway.js';
import {
  state, subscribe, changed, applyReady, applyDispatch, timeline, countUnread, markRead,
  guildChannels, dmChannels, mentionsMe, guildUnread, isBlocked, applyMessageEvent,
} from './state.js';
import { h, nonce as newNonce, replace } from './dom.js';
import { renderAuth } from './auth.js';
import { renderRail, renderSidebar } from './sidebar.js';
import { renderChat, renderMessages, renderTyping, focusComposer, announce, flashMessage } from './chat.js';
import { actionState, notify } from './actions.js';
import { renderMembers } from './members.js';
import { showInvite, closeDialogs } from './dialogs.js';
import { voiceReady, voiceDispatch, voiceError, closeVoice } from './voice.js';

// The token is kept in localStorage so a reload (or a new tab) stays logged
// in; see docs/web-client.md for why not a cookie.
const TOKEN_KEY = 'hearth.token';
const LAST_KEY = 'hearth.last';
const INVITE_KEY = 'hearth.invite';

export let gateway = null;
const root = document.getElementById('app');
let layout = null;
let readyOnce = false;
let reconnectedAt = 0;
const membersRequested = new Set();

// ------------------------------------------------------------------ routing

/** What the URL asks for. */
function route() {
  const p = location.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (p[0] === 'login' || p[0] === 'register') return { view: p[0] };
  if (p[0] === 'invite' && p[1]) return { view: 'invite', code: p[1] };
  // /channels/{guild or @me}/{channel}/{message}: a message link (Copy link).
  if (p[0] === 'channels' && p[1]) return { view: 'chat', guildId: p[1], channelId: p[2] || null, messageId: p[3] || null };
  return { view: 'home' };
}

export function navigate(path, { replace: rep = false } = {}) {
  if (location.pathname !== path) history[rep ? 'replaceState' : 'pushState'](null, '', path);
  onRoute();
}

window.addEventListener('popstate', () => onRoute());

function onRoute() {
  const r = route();
  const token = api.getToken();
  if (!token) {
    if (r.view === 'invite') sessionStorage.setItem(INVITE_KEY, r.code);
    const mode = r.view === 'register' ? 'register' : 'login';
    if (r.view !== mode) history.replaceState(null, '', `/${mode}`);
    layout = null;
    renderAuth(root, mode, sessionStorage.getItem(INVITE_KEY));
    return;
  }
  if (!layout) startMain();
  if (r.view === 'login' || r.view === 'register' || r.view === 'home') {
    navigate(localStorage.getItem(LAST_KEY) || '/channels/@me', { replace: true });
    return;
  }
  if (r.view === 'invite') {
    navigate('/channels/@me', { replace: true });
    showInvite(r.code);
    return;
  }
  selectRoute(r);
}

/** Point `state.current` at the route, correcting it once READY is known. */
function selectRoute(r) {
  let { guildId, channelId } = r;
  if (state.me) {
    if (guildId !== '@me' && !state.guilds.has(guildId)) {
      navigate('/channels/@me', { replace: true });
      return;
    }
    const c = channelId ? state.channels.get(channelId) : null;
    const fits = c && (guildId === '@me' ? c.guild_id === null : c.guild_id === guildId) && c.kind !== 'category';
    if (!fits) {
      const first = guildId === '@me' ? null : guildChannels(guildId).find((x) => x.kind === 'text');
      const path = first ? `/channels/${guildId}/${first.id}` : `/channels/${guildId}`;
      if (channelId || first) {
        navigate(path, { replace: true });
        return;
      }
      channelId = null;
    }
  }
  const moved = state.current.channelId !== channelId || state.current.guildId !== guildId;
  state.current = { guildId, channelId };
  if (state.me) localStorage.setItem(LAST_KEY, location.pathname);
  document.body.classList.remove('show-nav', 'show-members');
  if (channelId && state.me) {
    if (r.messageId) {
      // Open the channel at the linked message, then keep the plain channel URL.
      history.replaceState(null, '', `/channels/${guildId}/${channelId}`);
      localStorage.setItem(LAST_KEY, location.pathname);
      jumpTo(channelId, r.messageId);
    } else {
      openChannel(channelId);
    }
  }
  if (guildId !== '@me' && state.me) requestMembers(guildId);
  changed('current', 'messages', 'channels', 'guilds', 'members');
  if (moved && channelId) requestAnimationFrame(() => focusComposer());
}

// ------------------------------------------------------------------ session

async function boot() {
  api.setUnauthorizedHandler(() => logout({ local: true, reason: 'Your session has ended. Please log in again.' }));
  const token = localStorage.getItem(TOKEN_KEY);
  if (token) api.setToken(token);
  // Another tab logged out: follow it.
  window.addEventListener('storage', (e) => {
    if (e.key === TOKEN_KEY && !e.newValue && api.getToken()) logout({ local: true });
  });
  onRoute();
}

/** After a successful login or sign-up. */
export function loggedIn(token) {
  localStorage.setItem(TOKEN_KEY, token);
  api.setToken(token);
  const invite = sessionStorage.getItem(INVITE_KEY);
  sessionStorage.removeItem(INVITE_KEY);
  navigate(invite ? `/invite/${invite}` : '/channels/@me', { replace: true });
}

export async function logout({ local = false, reason = null } = {}) {
  if (!local) {
    try {
      await api.post('/auth/logout');
    } catch {
      // Forget the token anyway; the server drops it when it expires from the list.
    }
  }
  closeVoice();
  gateway?.stop();
  gateway = null;
  api.setToken(null);
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(LAST_KEY);
  state.me = null;
  state.guilds.clear();
  state.channels.clear();
  state.messages.clear();
  state.unread.clear();
  readyOnce = false;
  layout = null;
  closeDialogs();
  history.replaceState(null, '', '/login');
  renderAuth(root, 'login', null, reason);
}

function startMain() {
  const rail = h('nav', { class: 'rail', 'aria-label': 'Servers' });
  const sidebar = h('nav', { class: 'sidebar', 'aria-label': 'Channels' });
  const chat = h('main', { class: 'chat', id: 'main' });
  const members = h('aside', { class: 'members', 'aria-label': 'Members' });
  const scrim = h('div', { class: 'scrim', onclick: () => document.body.classList.remove('show-nav', 'show-members') });
  layout = { rail, sidebar, chat, members };
  root.className = 'layout';
  replace(root, h('a', { class: 'skip', href: '#composer' }, 'Skip to message box'), rail, sidebar, chat, members, scrim);
  renderChat(chat);
  connect();
}

function connect() {
  gateway?.stop();
  const gw = new Gateway(api.getToken());
  gateway = gw;
  gw.addEventListener('status', ({ detail }) => {
    if (detail.status === 'reconnecting' && state.connection === 'connected') reconnectedAt = Date.now();
    state.connection = detail.status;
    changed('connection');
  });
  gw.addEventListener('dispatch', ({ detail }) => onDispatch(detail.t, detail.d));
  gw.addEventListener('ack', ({ detail }) => {
    if (detail.message) onMessage(detail.message);
  });
  gw.addEventListener('cmd-error', ({ detail }) => onCommandError(detail));
  gw.addEventListener('fatal', ({ detail }) => {
    if (detail.code === 4004 || detail.code === 4022) logout({ local: true, reason: 'Your session has ended. Please log in again.' });
  });
  gw.connect();
}

function onDispatch(t, d) {
  if (t === 'READY') {
    const again = readyOnce;
    readyOnce = true;
    membersRequested.clear();
    applyReady(d);
    voiceReady(d);
    onRoute();
    if (again) catchUp();
    return;
  }
  if (t === 'RESUMED') {
    catchUp();
    return;
  }
  if (t === 'MESSAGE_CREATE') {
    onMessage(d);
    return;
  }
  if (t.startsWith('MESSAGE_')) {
    if (t === 'MESSAGE_DELETE' || t === 'MESSAGE_DELETE_BULK') onDeleted(d);
    if (applyMessageEvent(t, d)) changed('messages');
    return;
  }
  if (t === 'CHANNEL_PINS_UPDATE') return;
  voiceDispatch(t, d);
  applyDispatch(t, d);
  if (t === 'GUILD_CREATE' && pendingGuildOpen === d.guild.id) {
    pendingGuildOpen = null;
    navigate(`/channels/${d.guild.id}`);
  } else if (t === 'CHANNEL_DELETE' || t === 'GUILD_DELETE') {
    if (!state.channels.has(state.current.channelId) && state.current.channelId) onRoute();
    else if (t === 'GUILD_DELETE' && state.current.guildId === d.id) navigate('/channels/@me');
  }
}

let pendingGuildOpen = null;
/** Open a guild as soon as its GUILD_CREATE arrives (after create/join). */
export function openGuildWhenReady(id) {
  if (state.guilds.has(id)) navigate(`/channels/${id}`);
  else pendingGuildOpen = id;
}

// ------------------------------------------------------------------ messages

function onMessage(m) {
  const t = state.messages.get(m.channel_id);
  const fresh = t ? t.add(m) : true;
  state.typing.get(m.channel_id)?.delete(m.author.id);
  // Blocked users' messages are kept (behind a marker) but never count as unread.
  if (fresh && !isBlocked(m.author.id)) {
    countUnread(m);
    announce(m);
  }
  if (fresh && mentionsMe(m) && state.current.channelId !== m.channel_id) changed('title');
  changed('messages', 'channels', 'guilds', 'typing');
}

function onCommandError(d) {
  voiceError(d);
  if (d.op !== OP.SEND_MESSAGE || !d.nonce) return;
  for (const t of state.messages.values()) {
    const p = t.byNonce.get(d.nonce);
    if (p && !p.id) {
      p.failed = d.code === 'rate_limited' && d.retry_after_ms
        ? `Slow down: you can send again in ${Math.ceil(d.retry_after_ms / 1000)} s.`
        : d.message;
      changed('messages');
    }
  }
}

export async function openChannel(channelId) {
  markRead(channelId);
  const t = timeline(channelId);
  if (t.loaded || t.loading) return;
  t.loading = true;
  t.error = null;
  changed('messages');
  try {
    const page = await api.history(channelId, { limit: 50 });
    page.forEach((m) => t.add(m));
    t.hasMore = page.length === 50;
    t.loaded = true;
  } catch (e) {
    t.error = e.message;
  } finally {
    t.loading = false;
    changed('messages');
  }
}

/** A deleted message: stop editing or replying to it. */
function onDeleted(d) {
  const ids = d.ids || [d.id];
  if (actionState.editing && ids.includes(actionState.editing.id)) {
    actionState.editing = null;
    notify('The message you were editing was deleted.');
  }
  if (actionState.reply && ids.includes(actionState.reply.message.id)) {
    actionState.reply = null;
    changed('reply');
  }
}

/**
 * Show a message: scroll to it and flash it, loading history around it
 * (GET …/messages?around=ID) when it is not loaded. If that page does not
 * join the loaded history, the timeline shows it alone, cut off from the
 * present, with "Jump to present".
 */
export async function jumpTo(channelId, messageId) {
  const c = state.channels.get(channelId);
  if (!c) return;
  if (state.current.channelId !== channelId) {
    navigate(`/channels/${c.guild_id || '@me'}/${channelId}`);
  }
  const t = timeline(channelId);
  if (!t.loaded && !t.loading) await openChannel(channelId);
  for (let i = 0; t.loading && i < 200; i += 1) await new Promise((r) => setTimeout(r, 50));
  if (!t.byId.has(messageId)) {
    try {
      const page = await api.history(channelId, { around: messageId, limit: 50 });
      if (!page.some((m) => m.id === messageId)) {
        notify('That message no longer exists.', true);
        return;
      }
      const newest = page[page.length - 1]?.id;
      const joins = newest && t.firstId() && (t.byId.has(newest) || page.some((m) => t.byId.has(m.id)));
      if (!joins) {
        t.reset();
        t.loaded = true;
      }
      page.forEach((m) => t.add(m));
      if (!joins) t.hasNewer = true;
    } catch (e) {
      notify(e.message, true);
      return;
    }
    changed('messages');
  }
  // Wait for the redraw, then scroll.
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  renderMessages(false, false);
  flashMessage(messageId);
}

/** Back to the newest messages after a jump into older history. */
export async function jumpToPresent(channelId) {
  const t = state.messages.get(channelId);
  if (!t) return;
  t.reset();
  await openChannel(channelId);
  renderMessages(true, false);
}

export async function loadOlder(channelId) {
  const t = state.messages.get(channelId);
  if (!t || !t.loaded || t.loadingOlder || !t.hasMore) return;
  t.loadingOlder = true;
  changed('messages');
  try {
    const page = await api.history(channelId, { before: t.firstId() || undefined, limit: 50 });
    page.forEach((m) => t.add(m));
    t.hasMore = page.length === 50;
  } catch (e) {
    t.error = e.message;
  } finally {
    t.loadingOlder = false;
    changed('messages', 'older');
  }
}

/**
 * After a reconnect: fetch what each open channel missed (a new session
 * replays nothing), then settle sends that got neither ACK nor MESSAGE_CREATE.
 */
async function catchUp() {
  const since = reconnectedAt;
  for (const [channelId, t] of state.messages) {
    if (!t.loaded) continue;
    try {
      for (;;) {
        const after = t.lastId();
        const page = await api.history(channelId, after ? { after, limit: 100 } : { limit: 50 });
        page.forEach((m) => {
          if (t.add(m)) countUnread(m);
        });
        if (!after || page.length < 100) break;
      }
    } catch {
      // The channel may have gone; READY already dropped it.
    }
    for (const p of t.pending()) {
      if (!p.failed && p.sentAt <= since) p.failed = 'The connection dropped before the server confirmed this message.';
    }
  }
  changed('messages', 'channels', 'guilds');
}

/** Replace @username with <@id> for people the user can see here. */
export function encodeMentions(content, channel) {
  const candidates = new Map();
  const add = (u) => u && candidates.set(u.username.toLowerCase(), u.id);
  if (channel.guild_id) state.guilds.get(channel.guild_id)?.members.forEach((m) => add(m.user));
  else channel.recipients.forEach((id) => add(state.users.get(id)));
  return content.replace(/(^|[\s(])@([\p{L}\p{N}_.-]{2,32})/gu, (all, pre, name) => {
    const id = candidates.get(name.toLowerCase());
    return id ? `${pre}<@${id}>` : all;
  });
}

/**
 * Send `text` to a channel; `reply` ({message, mention}) makes it a reply
 * (mention false: the original author is not pinged).
 */
export function sendMessage(channelId, text, reply = null) {
  const channel = state.channels.get(channelId);
  const content = text.trim();
  if (!channel || !content) return;
  // Sending from older history: back to the present first.
  if (state.messages.get(channelId)?.hasNewer) jumpToPresent(channelId);
  const r = reply?.message;
  const p = {
    id: null,
    nonce: newNonce(),
    channel_id: channelId,
    guild_id: channel.guild_id,
    author: { id: state.me.id, username: state.me.username, display_name: state.me.display_name },
    content: encodeMentions(content, channel),
    created_at: Date.now(),
    pending: true,
    failed: null,
    kind: r ? 'reply' : 'default',
    message_reference: r ? { message_id: r.id, channel_id: r.channel_id } : null,
    referenced_message: r ? { id: r.id, author: r.author, content: (r.content || '').slice(0, 100) } : null,
    allowed_mentions: r && !reply.mention ? { parse: ['users', 'roles', 'everyone'], replied_user: false } : null,
  };
  timeline(channelId).addPending(p);
  transmit(p);
}

function transmit(p) {
  p.sentAt = Date.now();
  p.failed = null;
  const cmd = { channel_id: p.channel_id, content: p.content, nonce: p.nonce };
  if (p.message_reference) cmd.message_reference = { message_id: p.message_reference.message_id };
  if (p.allowed_mentions) cmd.allowed_mentions = p.allowed_mentions;
  const ok = gateway?.ready && gateway.send(OP.SEND_MESSAGE, cmd);
  if (!ok) p.failed = 'Not connected. It was not sent.';
  else setTimeout(() => {
    if (!p.id && !p.failed && gateway?.ready) {
      p.failed = 'The server did not confirm this message.';
      changed('messages');
    }
  }, 20000);
  changed('messages');
}

export function retryMessage(channelId, nonce) {
  const p = state.messages.get(channelId)?.byNonce.get(nonce);
  if (p && !p.id) transmit(p);
}

export function discardMessage(channelId, nonce) {
  const t = state.messages.get(channelId);
  const p = t?.byNonce.get(nonce);
  if (!p || p.id) return;
  t.list.splice(t.list.indexOf(p), 1);
  t.byNonce.delete(nonce);
  changed('messages');
}

let lastTyping = { channelId: null, at: 0 };
/** Tell others we are typing, at most every 8 s (the server limits it too). */
export function sendTyping(channelId) {
  const now = Date.now();
  if (lastTyping.channelId === channelId && now - lastTyping.at < 8000) return;
  if (gateway?.ready && gateway.send(OP.TYPING, { channel_id: channelId })) lastTyping = { channelId, at: now };
}

export function setPresence(status) {
  gateway?.send(OP.PRESENCE_UPDATE, { status });
  if (state.me) state.presences.set(state.me.id, status);
  changed('members', 'channels');
}

function requestMembers(guildId) {
  if (membersRequested.has(guildId) || !gateway?.ready) return;
  membersRequested.add(guildId);
  gateway.send(OP.REQUEST_GUILD_MEMBERS, { guild_id: guildId, presences: true, limit: 1000, nonce: `m${guildId}` });
}

// ------------------------------------------------------------------ render

let lastCurrent = null;
subscribe((kinds) => {
  if (!layout) return;
  const cur = `${state.current.guildId}/${state.current.channelId}`;
  const moved = cur !== lastCurrent;
  lastCurrent = cur;
  const any = (...names) => moved || names.some((n) => kinds.has(n));
  // Typing ticks come every second: they redraw only the typing line.
  if (any('guilds', 'channels', 'current', 'connection', 'relationships')) renderRail(layout.rail);
  if (any('guilds', 'channels', 'members', 'roles', 'current', 'connection', 'voice', 'relationships')) renderSidebar(layout.sidebar);
  renderChat(layout.chat, kinds);
  if (any('messages', 'members', 'older', 'connection', 'roles', 'reply')) renderMessages(moved, kinds.has('older'));
  renderTyping();
  if (any('members', 'roles', 'guilds', 'channels', 'current', 'relationships')) renderMembers(layout.members);
  if (document.visibilityState === 'visible' && state.current.channelId) markRead(state.current.channelId);
  const { mentions } = [...state.guilds.keys(), '@me'].reduce(
    (acc, g) => {
      const u = guildUnread(g);
      return { mentions: acc.mentions + u.mentions };
    },
    { mentions: 0 },
  );
  const title = state.channels.get(state.current.channelId);
  document.title = `${mentions ? `(${mentions}) ` : ''}${title?.name ? `#${title.name} · ` : ''}Hearth`;
});

document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && document.body.matches('.show-nav, .show-members') && !document.querySelector('dialog[open]')) {
    document.body.classList.remove('show-nav', 'show-members');
  }
});

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && state.current.channelId) markRead(state.current.channelId);
});

// Typing indicators expire on the client (the server sends no "stopped").
setInterval(() => {
  if ([...state.typing.values()].some((m) => m.size)) changed('typing');
}, 1000);

export { dmChannels };
boot();
