// The message pane: header, connection banner, the message log (grouped by
// author and day, older history on scroll up), typing line and composer.

import { h, replace, avatar, icon } from './dom.js';
import { state, channelTitle, displayName, mentionsMe, typers, isBlocked, changed } from './state.js';
import { render as renderMarkdown } from './markdown.js';
import { channelPermissions, has } from './permissions.js';
import {
  sendMessage, sendTyping, loadOlder, retryMessage, discardMessage, navigate, jumpTo, jumpToPresent, encodeMentions,
} from './app.js';
import { renderFriends } from './friends.js';
import { renderEmbed } from './embeds.js';
import { attachAutocomplete } from './autocomplete.js';
import {
  actionState, actionBar, reactionsRow, startEdit, cancelReply, messageKey, showPins, isMine, closePopup,
} from './actions.js';

/** The server's limit on message content (MAX_MESSAGE_CHARS), in characters. */
export const MAX_CHARS = 4000;
/** The counter shows from here on. */
const COUNTER_FROM = 3500;
const chars = (s) => [...s].length;

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
  const pinsBtn = h('button', {
    class: 'icon-btn', type: 'button', 'aria-label': 'Pinned messages', title: 'Pinned messages', 'aria-haspopup': 'dialog',
    onclick: () => state.current.channelId && showPins(state.current.channelId),
  }, icon('pin'));
  const banner = h('div', { class: 'conn', role: 'status', 'aria-live': 'polite' });
  // The log is redrawn as a whole, so it must not announce itself; new
  // messages from others are announced once through `announcer` instead.
  const list = h('div', {
    class: 'messages', role: 'log', 'aria-live': 'off', tabindex: '0',
    'aria-describedby': 'log-help',
  });
  list.addEventListener('keydown', onListKey);
  const logHelp = h('p', { id: 'log-help', class: 'visually-hidden' },
    'Arrow keys move between messages; Tab reaches the focused message\'s actions. On a message: E edit, R reply, Delete delete (Shift+Delete without asking), P pin, + react, Escape back to the message box.');
  const announcer = h('div', { class: 'visually-hidden', 'aria-live': 'polite' });
  list.addEventListener('scroll', () => {
    if (list.scrollTop < 200 && state.current.channelId) loadOlder(state.current.channelId);
  });
  const typing = h('div', { class: 'typing', 'aria-live': 'polite' });
  const label = h('label', { for: 'composer', class: 'visually-hidden' }, 'Message');
  // No maxlength: a long paste must not be cut silently. The counter and
  // the refusal to send say what is wrong instead.
  const input = h('textarea', { id: 'composer', rows: 1, autocomplete: 'off', enterkeyhint: 'send', 'aria-describedby': 'composer-count composer-error' });
  const send = h('button', { class: 'btn btn-primary', type: 'submit' }, 'Send');
  const counter = h('span', { class: 'counter', id: 'composer-count', 'aria-live': 'polite', hidden: true });
  const sendError = h('p', { class: 'form-error composer-error', id: 'composer-error', role: 'alert' });
  const replyBar = h('div', { class: 'reply-bar', hidden: true });
  const acHost = h('div', { class: 'ac-host' });
  const form = h('form', { class: 'composer' }, label, input, h('div', { class: 'send-col' }, counter, send));
  const ac = attachAutocomplete(input, acHost, () => state.channels.get(state.current.channelId));
  actionState.setupEditor = (ed, m) => {
    const host = h('div', { class: 'ac-host ac-edit' });
    ed.wrap.prepend(host);
    const eac = attachAutocomplete(ed.box, host, () => state.channels.get(m.channel_id));
    ed.box.value = eac.decode(m.content, m.guild_id);
    ed.encode = eac.encode;
  };
  const grow = () => {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
  };
  input.addEventListener('keydown', (e) => {
    // Enter sends, Shift+Enter adds a line; never while an IME is composing.
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    } else if (e.key === 'ArrowUp' && !input.value && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey) {
      // Up in an empty box edits your last message here, as in other chat apps.
      const t = state.messages.get(state.current.channelId);
      const last = t?.list.findLast((m) => m.id && isMine(m) && m.kind !== 'pin_notice');
      if (last) {
        e.preventDefault();
        startEdit(last);
      }
    } else if (e.key === 'Escape' && actionState.reply) {
      e.preventDefault();
      cancelReply();
    }
  });
  const count = () => {
    const id = state.current.channelId;
    const c = state.channels.get(id);
    const n = c ? chars(encodeMentions(encodeForSend(input.value.trim()), c)) : chars(input.value);
    counter.hidden = n < COUNTER_FROM;
    counter.textContent = `${n} / ${MAX_CHARS}`;
    counter.classList.toggle('over', n > MAX_CHARS);
    counter.setAttribute('aria-label', n > MAX_CHARS ? `${n - MAX_CHARS} characters over the limit of ${MAX_CHARS}` : `${n} of ${MAX_CHARS} characters`);
    if (n <= MAX_CHARS) sendError.textContent = '';
    return n;
  };
  input.addEventListener('input', () => {
    grow();
    count();
    if (input.value.trim() && state.current.channelId) sendTyping(state.current.channelId);
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const id = state.current.channelId;
    const c = state.channels.get(id);
    if (!id || !c || !input.value.trim()) return;
    const n = count();
    if (n > MAX_CHARS) {
      // Refuse rather than cut: the text stays for the user to shorten.
      sendError.textContent = `This message is ${n - MAX_CHARS} characters too long (the limit is ${MAX_CHARS}). Shorten it or split it into several messages.`;
      return;
    }
    const reply = actionState.reply?.channelId === id ? actionState.reply : null;
    sendMessage(id, encodeForSend(input.value.trim()), reply);
    if (reply) cancelReply();
    input.value = '';
    ac.forget();
    grow();
    count();
    stickToBottom = true;
  });
  encodeForSend = (text) => ac.encode(text);
  const head = h('header', { class: 'chat-head' }, navBtn, h('div', { class: 'chat-heading' }, title, topic), pinsBtn, membersBtn);
  const friends = h('section', { class: 'friends', 'aria-label': 'Friends', hidden: true });
  const present = h('div', { class: 'present-bar', hidden: true },
    h('span', {}, 'You are viewing older messages.'),
    h('button', { class: 'btn btn-small', type: 'button', onclick: () => jumpToPresent(state.current.channelId) }, 'Jump to present'));
  const bottom = h('div', { class: 'composer-area' }, acHost, replyBar, sendError, form);
  replace(el, head, banner, friends, present, list, logHelp, typing, bottom, announcer);
  ui = { el, title, topic, banner, list, typing, input, label, form, send, membersBtn, pinsBtn, announcer, friends, replyBar, present, counter, sendError };
}

/** Composer text → content (picked mentions, then typed @usernames); set in build(). */
let encodeForSend = (text) => text;

/** The reply bar above the composer: who is answered, a preview, the ping toggle and ×. */
function renderReplyBar() {
  const r = actionState.reply;
  const on = Boolean(r) && r.channelId === state.current.channelId;
  ui.replyBar.hidden = !on;
  if (!on) {
    ui.replyBar.replaceChildren();
    return;
  }
  const m = r.message;
  const name = displayName(m.author.id, m.guild_id) || m.author.display_name || m.author.username;
  const mentionBtn = isMine(m) ? null : h('button', {
    type: 'button', class: 'linkish reply-mention', 'aria-pressed': String(r.mention), 'data-key': 'reply-mention',
    'aria-label': `Mention ${name} when replying`,
    title: r.mention ? `${name} will be notified` : `${name} will not be notified`,
    onclick: () => {
      r.mention = !r.mention;
      changed('reply');
    },
  }, r.mention ? '@ON' : '@OFF');
  replace(ui.replyBar,
    h('span', { class: 'reply-to' }, 'Replying to ', h('strong', {}, name)),
    h('span', { class: 'reply-preview' }, previewText(m.content, m.guild_id)),
    mentionBtn,
    h('button', {
      type: 'button', class: 'icon-btn reply-cancel', 'aria-label': 'Cancel reply', title: 'Cancel reply (Escape)', 'data-key': 'reply-cancel',
      onclick: () => {
        cancelReply();
        ui.input.focus();
      },
    }, icon('close')));
}

/** One line of plain text for previews: mentions by name, Markdown left as typed. */
function previewText(content, guildId) {
  return (content || '').replace(/<@!?(\d+)>/g, (_, id) => `@${displayName(id, guildId)}`)
    .replace(/<@&(\d+)>/g, (_, id) => `@${state.guilds.get(guildId)?.roles.get(id)?.name || 'deleted role'}`)
    .replace(/<#(\d+)>/g, (_, id) => `#${state.channels.get(id)?.name || 'deleted channel'}`)
    .replace(/\s+/g, ' ').slice(0, 100);
}

/** Arrow keys between messages; shortcuts on a focused message. */
function onListKey(e) {
  const rows = [...ui.list.querySelectorAll('.msg[data-id]:not([data-id=""])')];
  const cur = e.target.closest?.('.msg');
  const onRow = cur && e.target === cur;
  if (e.key === 'ArrowUp' || e.key === 'ArrowDown' || e.key === 'Home' || e.key === 'End') {
    if (!onRow && e.target !== ui.list) return;
    if (!rows.length) return;
    e.preventDefault();
    let i = rows.indexOf(cur);
    if (e.key === 'Home') i = 0;
    else if (e.key === 'End') i = rows.length - 1;
    else if (i < 0) i = rows.length - 1;
    else i = Math.max(0, Math.min(rows.length - 1, i + (e.key === 'ArrowDown' ? 1 : -1)));
    rows[i].focus();
    rows[i].scrollIntoView({ block: 'nearest' });
    return;
  }
  if (!onRow) return;
  if (e.key === 'Escape') {
    e.preventDefault();
    ui.input.focus();
    return;
  }
  const t = state.messages.get(state.current.channelId);
  const m = t?.byId.get(cur.dataset.id);
  if (m && messageKey(e, m)) e.preventDefault();
}

let flashing = { id: null, until: 0 };

/** Scroll to a message and flash it; false if it is not drawn. */
export function flashMessage(id) {
  const row = ui?.list.querySelector(`.msg[data-id="${CSS.escape(id)}"]`);
  if (!row) return false;
  stickToBottom = false;
  row.scrollIntoView({ block: 'center' });
  // Kept across redraws (loading older history redraws the log).
  flashing = { id, until: Date.now() + 2000 };
  row.classList.remove('flash');
  void row.offsetWidth;
  row.classList.add('flash');
  row.focus({ preventScroll: true });
  setTimeout(() => ui.list.querySelector(`.msg[data-id="${CSS.escape(id)}"]`)?.classList.remove('flash'), 2000);
  return true;
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
  ui.pinsBtn.hidden = !c || c.kind === 'category';
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
  ui.present.hidden = !state.messages.get(c?.id)?.hasNewer;
  renderReplyBar();
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

function pill(cls, text, extra = {}) {
  return h('span', { class: `mention ${cls}`, ...extra }, text);
}

/** How mentions look in a message of `m` (names from state and m.mentions). */
function mentionCtx(guildId, m = null) {
  const g = state.guilds.get(guildId);
  return {
    mention: (id) => {
      const listed = m?.mentions?.find((u) => u.id === id);
      const known = state.users.has(id) || g?.members.has(id);
      const name = known ? displayName(id, guildId) : listed ? (listed.display_name || listed.username) : 'unknown user';
      return pill(id === state.me?.id ? 'me' : 'user', `@${name}`);
    },
    role: (id) => {
      const r = g?.roles.get(id);
      const mine = Boolean(g?.member?.roles.includes(id));
      const el = pill(`role${mine ? ' me' : ''}`, `@${r ? r.name : 'deleted role'}`);
      if (r?.color) el.style.setProperty('--role-color', `#${r.color.toString(16).padStart(6, '0')}`);
      return el;
    },
    channel: (id) => {
      const c = state.channels.get(id);
      if (!c || !c.guild_id) return pill('channel', '#unknown channel');
      const href = `/channels/${c.guild_id}/${c.id}`;
      return h('a', {
        class: 'mention channel', href,
        onclick: (e) => {
          if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
          e.preventDefault();
          navigate(href);
        },
      }, `#${c.name}`);
    },
    everyone: (word) => pill('everyone', `@${word}`),
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

const authorName = (m) => displayName(m.author.id, m.guild_id) || m.author.display_name || m.author.username;

/** The quoted line above a reply: a button that jumps to the original. */
function replyLine(m) {
  const ref = m.referenced_message;
  if (!ref) {
    return h('p', { class: 'reply-line deleted' }, h('span', { class: 'reply-glyph', 'aria-hidden': 'true' }, icon('reply')),
      h('span', { class: 'muted' }, 'Original message was deleted'));
  }
  const name = displayName(ref.author.id, m.guild_id) || ref.author.display_name || ref.author.username;
  const text = previewText(ref.content, m.guild_id) || 'Click to see the message';
  return h('p', { class: 'reply-line' }, h('span', { class: 'reply-glyph', 'aria-hidden': 'true' }, icon('reply')),
    h('button', {
      type: 'button', class: 'reply-jump', 'data-key': `rj${m.id}`,
      'aria-label': `Replying to ${name}: ${text}. Jump to the original message`,
      onclick: () => jumpTo(m.message_reference?.channel_id || m.channel_id, ref.id),
    }, h('strong', {}, `@${name}`), ' ', h('span', { class: 'reply-text' }, text)));
}

function messageBody(m, guildId) {
  const editing = actionState.editing?.id === m.id && m.id ? actionState.editing : null;
  const ctx = mentionCtx(guildId, m);
  let body = editing ? editing.wrap : null;
  if (!body) {
    body = h('div', { class: 'msg-body' }, renderMarkdown(m.content || '', ctx));
    if (m.edited_at) {
      // "(edited)" ends the last paragraph, as in other chat apps.
      const mark = h('span', { class: 'edited', title: `Edited ${new Date(m.edited_at).toLocaleString()}` }, ' (edited)');
      const last = body.lastElementChild;
      (last?.tagName === 'P' ? last : body).append(mark);
    }
  }
  const embeds = (m.embeds || []).map((e) => renderEmbed(e, ctx)).filter(Boolean);
  const me = mentionsMe(m);
  const row = h('div', {
    class: `msg${m.id ? '' : ' pending'}${m.failed ? ' failed' : ''}${me ? ' mentions-me' : ''}${m.pinned ? ' pinned' : ''}${flashing.id === m.id && Date.now() < flashing.until ? ' flash' : ''}`,
    'data-id': m.id || '', 'data-nonce': m.nonce || '', 'data-key': m.id ? `m${m.id}` : `n${m.nonce}`,
    tabindex: m.id ? '-1' : null,
    'aria-label': m.id ? `${authorName(m)}${me ? ', mentions you' : ''}${m.pinned ? ', pinned' : ''}` : null,
  },
  // First in the row, so Tab from a focused message reaches its actions first.
  editing ? null : actionBar(m, authorName(m)),
  body, embeds.length ? h('div', { class: 'embeds' }, embeds) : null, reactionsRow(m));
  if (!m.id && !m.failed) row.append(h('span', { class: 'msg-state' }, 'Sending…'));
  if (m.failed) {
    row.append(h('div', { class: 'msg-failed', role: 'alert' },
      h('span', {}, `Not sent: ${m.failed}`),
      h('button', { class: 'btn btn-small', type: 'button', 'data-key': `r${m.nonce}`, onclick: () => retryMessage(m.channel_id, m.nonce) }, 'Retry'),
      h('button', { class: 'btn btn-small btn-quiet', type: 'button', 'data-key': `d${m.nonce}`, onclick: () => discardMessage(m.channel_id, m.nonce) }, 'Discard')));
  }
  return row;
}

/** "alice pinned a message to this channel. See all pinned messages." */
function systemNode(m, c) {
  const name = authorName(m);
  const target = m.message_reference?.message_id;
  const row = h('div', {
    class: 'msg system', 'data-id': m.id, 'data-key': `m${m.id}`, tabindex: '-1',
    'aria-label': `${name} pinned a message`,
  },
  h('span', { class: 'sys-icon', 'aria-hidden': 'true' }, icon('pin')),
  h('span', {}, h('strong', {}, name), ' pinned ',
    target ? h('button', { type: 'button', class: 'linkish', 'data-key': `pj${m.id}`, onclick: () => jumpTo(c.id, target) }, 'a message') : 'a message',
    ' to this channel. ',
    h('button', { type: 'button', class: 'linkish', 'data-key': `pp${m.id}`, onclick: () => showPins(c.id) }, 'See all pinned messages'),
    '. '), timeEl(m.created_at), actionBar(m, name));
  return h('li', { class: 'sys-line' }, row);
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
    if (m.kind === 'pin_notice') {
      out.push(systemNode(m, c));
      group = null;
      prev = m;
      continue;
    }
    const reply = m.kind === 'reply' || Boolean(m.message_reference);
    const joins = group && prev && !newDay && !reply && prev.author.id === m.author.id && m.created_at - prev.created_at < GROUP_MS;
    if (!joins) {
      const name = displayName(m.author.id, c.guild_id) || m.author.display_name || m.author.username;
      const nameEl = h('span', { class: 'author' }, name);
      const color = roleColor(c.guild_id, m.author.id);
      if (color) nameEl.style.setProperty('--role-color', color);
      group = h('li', { class: `group${reply ? ' is-reply' : ''}` },
        avatar(m.author.id, name),
        h('div', { class: 'group-main' }, reply ? replyLine(m) : null, h('h3', { class: 'group-head' }, nameEl, ' ', timeEl(m.created_at))));
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
  const who = displayName(m.author.id, m.guild_id);
  ui.announcer.textContent = m.kind === 'pin_notice' ? `${who} pinned a message` : `${who}: ${previewText(m.content, m.guild_id)}`;
}
