// The message pane: header, connection banner, the message log (grouped by
// author and day, older history on scroll up), typing line and composer.

import { h, replace, avatar, icon } from './dom.js';
import { state, channelTitle, displayName, mentionsMe, typers, isBlocked } from './state.js';
import { render as renderMarkdown } from './markdown.js';
import { channelPermissions, has } from './permissions.js';
import { sendMessage, sendTyping, loadOlder, retryMessage, discardMessage } from './app.js';
import { renderFriends } from './friends.js';

let ui = null;
const GROUP_MS = 7 * 60 * 1000;

function build(el) {
  const title = h('h1', { class: 'chat-title' });
  const topic = h('p', { class: 'chat-topic' });
  const navBtn = h('button', {
    class: 'icon-btn only-narrow', type: 'button', 'aria-label': 'Show channels', title: 'Show channels',
    onclick: () => document.body.classList.toggle('show-nav'),
  }, icon('menu'));
  const membersBtn = h('button', {
    class: 'icon-btn', type: 'button', 'aria-label': 'Show members', title: 'Show members', 'aria-pressed': 'false',
    onclick: () => {
      const narrow = matchMedia('(max-width: 900px)').matches;
      const cls = narrow ? 'show-members' : 'hide-members';
      document.body.classList.toggle(cls);
      membersBtn.setAttribute('aria-pressed', String(document.body.classList.contains('show-members') || !document.body.classList.contains('hide-members')));
    },
  }, icon('people'));
  const banner = h('div', { class: 'conn', role: 'status', 'aria-live': 'polite' });
  // The log is redrawn as a whole, so it must not announce itself; new
  // messages from others are announced once through `announcer` instead.
  const list = h('div', { class: 'messages', role: 'log', 'aria-live': 'off', tabindex: '0' });
  const announcer = h('div', { class: 'visually-hidden', 'aria-live': 'polite' });
  list.addEventListener('scroll', () => {
    if (list.scrollTop < 200 && state.current.channelId) loadOlder(state.current.channelId);
  });
  const typing = h('div', { class: 'typing', 'aria-live': 'polite' });
  const label = h('label', { for: 'composer', class: 'visually-hidden' }, 'Message');
  const input = h('textarea', { id: 'composer', rows: 1, maxlength: 4000, autocomplete: 'off', enterkeyhint: 'send' });
  const send = h('button', { class: 'btn btn-primary', type: 'submit' }, 'Send');
  const form = h('form', { class: 'composer' }, label, input, send);
  const grow = () => {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
  };
  input.addEventListener('keydown', (e) => {
    // Enter sends, Shift+Enter adds a line; never while an IME is composing.
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  input.addEventListener('input', () => {
    grow();
    if (input.value.trim() && state.current.channelId) sendTyping(state.current.channelId);
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const id = state.current.channelId;
    if (!id || !input.value.trim()) return;
    sendMessage(id, input.value);
    input.value = '';
    grow();
    stickToBottom = true;
  });
  const head = h('header', { class: 'chat-head' }, navBtn, h('div', { class: 'chat-heading' }, title, topic), membersBtn);
  const friends = h('section', { class: 'friends', 'aria-label': 'Friends', hidden: true });
  replace(el, head, banner, friends, list, typing, form, announcer);
  ui = { el, title, topic, banner, list, typing, input, label, form, send, membersBtn, announcer, friends };
}

export function focusComposer() {
  if (ui && !ui.input.disabled && matchMedia('(min-width: 901px)').matches) ui.input.focus();
}

export function renderChat(el) {
  if (!ui || ui.el !== el) build(el);
  const c = state.channels.get(state.current.channelId);
  const dm = c && !c.guild_id;
  ui.title.replaceChildren(...[
    c ? h('span', { class: 'chat-icon', 'aria-hidden': 'true' }, dm ? '@' : c.kind === 'voice' ? icon('speaker') : '#') : null,
    c ? channelTitle(c) : state.current.guildId === '@me' ? 'Friends' : (state.me ? 'No channel' : 'Connecting…'),
  ].filter(Boolean));
  // Home with no conversation open shows the Friends view instead of a log.
  const home = !c && state.current.guildId === '@me' && Boolean(state.me);
  ui.friends.hidden = !home;
  ui.list.hidden = home;
  ui.membersBtn.hidden = home;
  document.body.classList.toggle('friends-home', home);
  if (home) renderFriends(ui.friends);
  ui.topic.textContent = c?.topic || '';
  ui.topic.hidden = !c?.topic;
  const conn = state.connection;
  ui.banner.textContent = conn === 'reconnecting' ? 'Connection lost. Reconnecting…' : conn === 'connecting' && !state.me ? 'Connecting…' : '';
  ui.banner.classList.toggle('on', Boolean(ui.banner.textContent));
  // A 1:1 DM with someone you blocked takes no messages until you unblock them.
  const other = c?.kind === 'dm' ? c.recipients.find((id) => id !== state.me?.id) : null;
  const blocked = Boolean(other) && isBlocked(other);
  const canSend = c && c.kind !== 'category' && has(channelPermissions(c), 'send_messages') && !blocked;
  ui.form.hidden = !c;
  ui.input.disabled = !canSend;
  ui.send.disabled = !canSend;
  const name = c ? (dm ? channelTitle(c) : `#${c.name}`) : '';
  ui.label.textContent = `Message ${name}`;
  ui.input.placeholder = canSend ? `Message ${name}`
    : blocked ? `You blocked ${name}. Unblock them to send messages.` : 'You do not have permission to send messages here.';
  ui.list.setAttribute('aria-label', c ? `Messages in ${name}` : 'Messages');
}

let stickToBottom = true;
let lastChannel = null;

function day(ms) {
  const d = new Date(ms);
  const today = new Date();
  const yest = new Date(Date.now() - 86400000);
  if (d.toDateString() === today.toDateString()) return 'Today';
  if (d.toDateString() === yest.toDateString()) return 'Yesterday';
  return d.toLocaleDateString(undefined, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
}

function timeEl(ms, withDay = false) {
  const d = new Date(ms);
  const hm = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  return h('time', { datetime: d.toISOString(), title: d.toLocaleString() }, withDay ? `${day(ms)} at ${hm}` : hm);
}

function mentionCtx(guildId) {
  return {
    mention: (id) => {
      const known = state.users.has(id) || state.guilds.get(guildId)?.members.has(id);
      const me = id === state.me?.id;
      return h('span', { class: `mention${me ? ' me' : ''}` }, `@${known ? displayName(id, guildId) : 'unknown user'}`);
    },
  };
}

function roleColor(guildId, userId) {
  const g = state.guilds.get(guildId);
  const m = g?.members.get(userId);
  if (!m) return null;
  const roles = m.roles.map((r) => g.roles.get(r)).filter((r) => r && r.color);
  roles.sort((a, b) => b.position - a.position);
  return roles[0] ? `#${roles[0].color.toString(16).padStart(6, '0')}` : null;
}

function messageBody(m, guildId) {
  const body = h('div', { class: 'msg-body' }, renderMarkdown(m.content, mentionCtx(guildId)));
  const row = h('div', {
    class: `msg${m.id ? '' : ' pending'}${m.failed ? ' failed' : ''}${mentionsMe(m.content) ? ' mentions-me' : ''}`,
    'data-id': m.id || '', 'data-nonce': m.nonce || '',
  }, body);
  if (!m.id && !m.failed) row.append(h('span', { class: 'msg-state' }, 'Sending…'));
  if (m.failed) {
    row.append(h('div', { class: 'msg-failed', role: 'alert' },
      h('span', {}, `Not sent: ${m.failed}`),
      h('button', { class: 'btn btn-small', type: 'button', 'data-key': `r${m.nonce}`, onclick: () => retryMessage(m.channel_id, m.nonce) }, 'Retry'),
      h('button', { class: 'btn btn-small btn-quiet', type: 'button', 'data-key': `d${m.nonce}`, onclick: () => discardMessage(m.channel_id, m.nonce) }, 'Discard')));
  }
  return row;
}

/** Runs of blocked authors' messages the user chose to show, by first message. */
const revealed = new Set();

/** Group messages by author and day, like the chat apps people know. */
function groupNodes(msgs, c, prevIn) {
  const out = [];
  let prev = prevIn;
  let group = null;
  for (const m of msgs) {
    const newDay = !prev || new Date(prev.created_at).toDateString() !== new Date(m.created_at).toDateString();
    if (newDay) {
      out.push(h('li', { class: 'day', role: 'separator' }, h('span', {}, day(m.created_at))));
    }
    const joins = group && prev && !newDay && prev.author.id === m.author.id && m.created_at - prev.created_at < GROUP_MS;
    if (!joins) {
      const name = displayName(m.author.id, c.guild_id) || m.author.display_name || m.author.username;
      const nameEl = h('span', { class: 'author' }, name);
      const color = roleColor(c.guild_id, m.author.id);
      if (color) nameEl.style.setProperty('--role-color', color);
      group = h('li', { class: 'group' },
        avatar(m.author.id, name),
        h('div', { class: 'group-main' }, h('h3', { class: 'group-head' }, nameEl, ' ', timeEl(m.created_at))));
      out.push(group);
    }
    group.querySelector('.group-main').append(messageBody(m, c.guild_id));
    prev = m;
  }
  return out;
}

/** A marker standing in for a run of messages from blocked users (click to show). */
function blockedMarker(run, key, open) {
  const n = run.length;
  const text = `${n} blocked message${n === 1 ? '' : 's'}`;
  return h('li', { class: 'blocked-marker' },
    h('span', { class: 'blocked-text' }, text),
    h('button', {
      class: 'btn btn-small btn-quiet', type: 'button', 'aria-expanded': String(open), 'data-key': `b${key}`,
      'aria-label': `${open ? 'Hide' : 'Show'} ${text}`,
      onclick: () => {
        if (open) revealed.delete(key);
        else revealed.add(key);
        renderMessages(false, false);
      },
    }, open ? 'Hide' : 'Show'));
}

function messageNodes(t, c) {
  // Split into runs: messages by blocked authors are hidden behind a marker.
  const runs = [];
  for (const m of t.list) {
    const blocked = isBlocked(m.author.id);
    const last = runs[runs.length - 1];
    if (last && last.blocked === blocked) last.msgs.push(m);
    else runs.push({ blocked, msgs: [m] });
  }
  const out = [];
  let prev = null;
  for (const r of runs) {
    if (!r.blocked) {
      out.push(...groupNodes(r.msgs, c, prev));
    } else {
      const key = r.msgs[0].id || r.msgs[0].nonce;
      const open = revealed.has(key);
      out.push(blockedMarker(r.msgs, key, open));
      if (open) out.push(...groupNodes(r.msgs, c, null));
    }
    prev = r.msgs[r.msgs.length - 1];
  }
  return out;
}

/** Redraw the message log, keeping the reading position. */
export function renderMessages(moved, older) {
  if (!ui) return;
  const list = ui.list;
  const id = state.current.channelId;
  const c = state.channels.get(id);
  if (id !== lastChannel) {
    lastChannel = id;
    moved = true;
  }
  const fromBottom = list.scrollHeight - list.scrollTop;
  const atBottom = fromBottom - list.clientHeight < 80;
  if (!c) {
    replace(list, h('div', { class: 'welcome' },
      h('h2', {}, state.current.guildId === '@me' ? 'Your direct messages' : 'Nothing here yet'),
      h('p', {}, state.current.guildId === '@me'
        ? 'Pick a conversation on the left, or open a server and choose someone in its member list to message them.'
        : 'This server has no text channel you can see.')));
    return;
  }
  const t = state.messages.get(id);
  const top = [];
  if (!t || (t.loading && !t.loaded)) top.push(h('p', { class: 'muted center' }, 'Loading messages…'));
  else if (t.error && !t.list.length) top.push(h('p', { class: 'form-error center', role: 'alert' }, t.error));
  else if (t.hasMore) {
    top.push(h('div', { class: 'center' }, h('button', {
      class: 'btn btn-small btn-quiet', type: 'button', 'data-key': 'older', disabled: t.loadingOlder,
      onclick: () => loadOlder(id),
    }, t.loadingOlder ? 'Loading older messages…' : 'Load older messages')));
  } else {
    top.push(h('div', { class: 'chan-start' },
      h('h2', {}, c.guild_id ? `Welcome to #${c.name}` : channelTitle(c)),
      h('p', { class: 'muted' }, c.guild_id ? `This is the start of #${c.name}.` : 'This is the start of your conversation.')));
  }
  replace(list, ...top, h('ol', { class: 'msg-list' }, t ? messageNodes(t, c) : []));
  if (moved || stickToBottom || (atBottom && !older)) {
    list.scrollTop = list.scrollHeight;
    stickToBottom = false;
  } else if (older) {
    list.scrollTop = list.scrollHeight - fromBottom;
  }
}

export function renderTyping() {
  if (!ui) return;
  const c = state.channels.get(state.current.channelId);
  const who = c ? typers(c.id).filter((id) => !isBlocked(id)).map((id) => displayName(id, c.guild_id)) : [];
  let text = '';
  if (who.length === 1) text = `${who[0]} is typing…`;
  else if (who.length === 2) text = `${who[0]} and ${who[1]} are typing…`;
  else if (who.length > 2) text = 'Several people are typing…';
  if (ui.typing.textContent !== text) ui.typing.textContent = text;
}

/** Tell screen readers about a new message in the open channel. */
export function announce(m) {
  if (!ui || m.channel_id !== state.current.channelId || m.author.id === state.me?.id || isBlocked(m.author.id)) return;
  const text = m.content.replace(/<@(\d+)>/g, (_, id) => `@${displayName(id, m.guild_id)}`);
  ui.announcer.textContent = `${displayName(m.author.id, m.guild_id)}: ${text}`;
}
