// Message actions (docs/api.md, Messages): the hover/focus action bar of a
// message (quick reactions, add reaction, reply, edit, delete, more), its
// menu (pin, copy link, copy text, edit history, remove reactions), the
// emoji picker, reaction pills with "who reacted", edit in place, delete
// with confirmation (Shift skips it), the reply state of the composer and
// the pinned messages panel. Every popup closes with Escape and gives the
// focus back to where it came from. A refusal shows the server's message.

import { h, icon } from './dom.js';
import * as api from './api.js';
import { state, changed, displayName, emojiKey, findMessage } from './state.js';
import { channelPermissions, has } from './permissions.js';
import { render as renderMarkdown } from './markdown.js';
import { CATEGORIES, QUICK, emojiLabel } from './emoji.js';
import { modal, errorBox } from './dialogs.js';
import { jumpTo } from './app.js';

/** Edit in place and reply: what the chat pane draws around messages. */
export const actionState = {
  editing: null, // {id, channelId, wrap, box, error, encode}
  reply: null, // {channelId, message, mention}
  setupEditor: null, // set by chat.js
};

const SYSTEM = new Set(['pin_notice']);

// ------------------------------------------------------------------ toasts

let toastEl = null;
let toastTimer = null;
/** A short note at the bottom of the screen, read out by screen readers. */
export function notify(text, error = false) {
  if (!toastEl) {
    toastEl = h('div', { class: 'toast', role: 'status', 'aria-live': 'polite' });
    document.body.append(toastEl);
  }
  toastEl.textContent = text;
  toastEl.classList.toggle('toast-error', error);
  toastEl.classList.add('on');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => toastEl.classList.remove('on'), error ? 6000 : 3000);
}

async function attempt(fn, done) {
  try {
    await fn();
    if (done) notify(done);
    return true;
  } catch (e) {
    notify(e.code === 'rate_limited' && e.retryAfterMs
      ? `Slow down: try again in ${Math.ceil(e.retryAfterMs / 1000)} s.` : e.message, true);
    return false;
  }
}

// ------------------------------------------------------------ permissions

export function perms(channelId) {
  const c = state.channels.get(channelId);
  const p = channelPermissions(c);
  const dm = c && !c.guild_id;
  return {
    manage: has(p, 'manage_messages'),
    // In DMs there are no permission bits for reactions: the server decides.
    react: dm || has(p, 'add_reactions'),
    send: has(p, 'send_messages'),
    // In DMs and group DMs every recipient may pin (docs/api.md, Pins).
    pin: dm || has(p, 'manage_messages'),
  };
}

export function isMine(m) {
  return m.author?.id === state.me?.id;
}

// ------------------------------------------------------------------ popups

let openPopup = null;

/** Close the open popup (menu or picker), returning focus to its opener. */
export function closePopup(refocus = true) {
  const p = openPopup;
  if (!p) return;
  openPopup = null;
  p.el.remove();
  document.removeEventListener('pointerdown', p.outside, true);
  p.opener?.setAttribute('aria-expanded', 'false');
  if (refocus) {
    // The list may have been redrawn: find the opener again by its key.
    const again = p.key ? document.querySelector(`[data-key="${CSS.escape(p.key)}"]`) : null;
    (again || p.opener)?.focus({ preventScroll: true });
  }
}

/** Show `el` as a popup next to `opener`. */
function popup(el, opener) {
  closePopup(false);
  el.classList.add('popup');
  document.body.append(el);
  const r = opener.getBoundingClientRect();
  const w = el.offsetWidth;
  const hgt = el.offsetHeight;
  const left = Math.max(8, Math.min(r.right - w, window.innerWidth - w - 8));
  const below = r.bottom + 4 + hgt < window.innerHeight;
  el.style.left = `${left}px`;
  el.style.top = `${below ? r.bottom + 4 : Math.max(8, r.top - hgt - 4)}px`;
  const outside = (e) => {
    if (!el.contains(e.target) && e.target !== opener && !opener.contains(e.target)) closePopup(false);
  };
  document.addEventListener('pointerdown', outside, true);
  el.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      closePopup();
    }
  });
  opener.setAttribute('aria-expanded', 'true');
  openPopup = { el, opener, key: opener.dataset.key, outside };
}

/** A menu of [label, fn] items; arrow keys move, Enter picks. */
function menu(opener, items, label) {
  const buttons = items.map(([text, fn, danger]) => h('button', {
    type: 'button', role: 'menuitem', class: `menu-item${danger ? ' danger' : ''}`, tabindex: '-1',
    onclick: (e) => {
      closePopup();
      fn(e);
    },
  }, text));
  const el = h('div', { role: 'menu', 'aria-label': label, class: 'menu' }, buttons);
  el.addEventListener('keydown', (e) => {
    const i = buttons.indexOf(document.activeElement);
    const d = e.key === 'ArrowDown' ? 1 : e.key === 'ArrowUp' ? -1 : 0;
    if (d) {
      e.preventDefault();
      buttons[(i + d + buttons.length) % buttons.length].focus();
    } else if (e.key === 'Home' || e.key === 'End') {
      e.preventDefault();
      buttons[e.key === 'Home' ? 0 : buttons.length - 1].focus();
    } else if (e.key === 'Tab') {
      closePopup();
    }
  });
  popup(el, opener);
  buttons[0]?.focus();
}

// ------------------------------------------------------------- emoji picker

/** The emoji picker next to `opener`; `onPick(emoji)` gets the unicode emoji. */
export function openPicker(opener, onPick) {
  const search = h('input', { type: 'search', class: 'picker-search', 'aria-label': 'Search emoji', placeholder: 'Search emoji', autocomplete: 'off' });
  const choose = (e) => {
    closePopup();
    onPick(e);
  };
  const btn = ([e, name]) => h('button', {
    type: 'button', class: 'emoji-btn', 'aria-label': name, title: name, 'data-name': name, onclick: () => choose(e),
  }, e);
  const sections = [['Quick reactions', QUICK], ...CATEGORIES].map(([cat, list]) => h('section', { class: 'picker-cat', 'aria-label': cat },
    h('h3', { class: 'picker-head' }, cat), h('div', { class: 'picker-grid' }, list.map(btn))));
  const none = h('p', { class: 'muted picker-none', hidden: true }, 'No emoji found.');
  const body = h('div', { class: 'picker-body' }, sections, none);
  const el = h('div', { role: 'dialog', 'aria-label': 'Emoji picker', class: 'picker' }, search, body);
  const visible = () => [...body.querySelectorAll('.emoji-btn')].filter((b) => !b.hidden && !b.closest('section').hidden);
  search.addEventListener('input', () => {
    const q = search.value.trim().toLowerCase();
    let any = false;
    for (const s of sections) {
      let n = 0;
      s.querySelectorAll('.emoji-btn').forEach((b) => {
        b.hidden = Boolean(q) && !b.dataset.name.includes(q);
        if (!b.hidden) n += 1;
      });
      // While searching, the quick row would only repeat matches.
      s.hidden = !n || (Boolean(q) && s === sections[0]);
      any = any || !s.hidden;
    }
    none.hidden = any;
  });
  el.addEventListener('keydown', (e) => {
    const list = visible();
    if (e.target === search) {
      if (e.key === 'Enter') {
        e.preventDefault();
        if (list[0]) list[0].click();
      } else if (e.key === 'ArrowDown') {
        e.preventDefault();
        list[0]?.focus();
      }
      return;
    }
    const i = list.indexOf(document.activeElement);
    if (i < 0) return;
    const cols = 8;
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols }[e.key];
    if (!step) return;
    e.preventDefault();
    const j = i + step;
    if (j < 0) search.focus();
    else list[Math.min(j, list.length - 1)].focus();
  });
  popup(el, opener);
  search.focus();
}

// ---------------------------------------------------------------- reactions

function emojiPath(emoji) {
  return encodeURIComponent(typeof emoji === 'string' ? emoji : emojiKey(emoji));
}

/** Add (or, if already ours, remove) a reaction. */
export function toggleReaction(m, emoji) {
  const name = typeof emoji === 'string' ? emoji : emoji.name;
  const key = typeof emoji === 'string' ? emoji : emojiKey(emoji);
  const r = (m.reactions || []).find((x) => emojiKey(x.emoji) === key || x.emoji.name === name);
  const path = `/channels/${m.channel_id}/messages/${m.id}/reactions/${emojiPath(r ? r.emoji : emoji)}/@me`;
  return attempt(() => (r?.me ? api.del(path) : api.put(path)));
}

const whoCache = new Map();
/** "alice, bob" for a reaction (fetched once per count). */
async function whoReacted(m, r, el) {
  const key = `${m.id}/${emojiKey(r.emoji)}/${r.count}`;
  if (!whoCache.has(key)) {
    whoCache.set(key, api.get(`/channels/${m.channel_id}/messages/${m.id}/reactions/${emojiPath(r.emoji)}?limit=25`)
      .then((users) => users.map((u) => displayName(u.id, m.guild_id) || u.display_name || u.username))
      .catch(() => null));
  }
  const names = await whoCache.get(key);
  if (!names || !el.isConnected) return;
  const more = r.count > names.length ? ` and ${r.count - names.length} more` : '';
  el.title = `${names.join(', ')}${more} reacted with ${emojiLabel(r.emoji)}`;
}

/** The reaction pills under a message (toggle on click) and an add button. */
export function reactionsRow(m) {
  const rs = (m.reactions || []).filter((r) => r.count > 0);
  if (!rs.length || !m.id) return null;
  const can = perms(m.channel_id);
  const pills = rs.map((r) => {
    const label = emojiLabel(r.emoji);
    const shown = r.emoji.id ? `:${r.emoji.name}:` : r.emoji.name;
    const pill = h('button', {
      type: 'button', class: `reaction${r.me ? ' me' : ''}`, 'aria-pressed': String(Boolean(r.me)),
      'data-key': `re${m.id}-${emojiKey(r.emoji)}`,
      'aria-label': `${label}: ${r.count} reaction${r.count === 1 ? '' : 's'}${r.me ? ', including yours. Remove yours' : '. Add yours'}`,
      onclick: () => toggleReaction(m, r.emoji),
    }, h('span', { class: 'reaction-emoji', 'aria-hidden': 'true' }, shown), h('span', { class: 'reaction-count', 'aria-hidden': 'true' }, String(r.count)));
    const who = () => whoReacted(m, r, pill);
    pill.addEventListener('pointerenter', who);
    pill.addEventListener('focus', who);
    return pill;
  });
  const add = can.react && rs.length < 20 ? h('button', {
    type: 'button', class: 'reaction reaction-add', 'aria-label': 'Add reaction', title: 'Add reaction', 'aria-haspopup': 'dialog',
    'data-key': `ra${m.id}`, onclick: (e) => openPicker(e.currentTarget, (em) => toggleReaction(m, em)),
  }, icon('smile')) : null;
  return h('div', { class: 'reactions', role: 'group', 'aria-label': 'Reactions' }, pills, add);
}

// --------------------------------------------------------------- edit, delete

/** Start editing `m` in place (own messages only). */
export function startEdit(m) {
  if (!m?.id || !isMine(m) || SYSTEM.has(m.kind)) return;
  const box = h('textarea', {
    class: 'edit-box', rows: 1, 'data-key': 'edit-box', 'aria-label': 'Edit message',
    'aria-describedby': 'edit-hint',
  });
  box.value = m.content;
  const error = h('p', { class: 'form-error', role: 'alert' });
  const save = h('button', { type: 'button', class: 'linkish', 'data-key': 'edit-save', onclick: () => saveEdit() }, 'save');
  const cancel = h('button', { type: 'button', class: 'linkish', 'data-key': 'edit-cancel', onclick: () => cancelEdit() }, 'cancel');
  const wrap = h('div', { class: 'edit-wrap' }, box, error,
    h('p', { class: 'hint', id: 'edit-hint' }, 'Escape to ', cancel, ' • Enter to ', save));
  box.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      cancelEdit();
    } else if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      saveEdit();
    }
  });
  const grow = () => {
    box.style.height = 'auto';
    box.style.height = `${Math.min(box.scrollHeight, 300)}px`;
  };
  box.addEventListener('input', grow);
  if (actionState.editing) cancelEdit(false);
  actionState.editing = { id: m.id, channelId: m.channel_id, wrap, box, error, encode: null };
  // The chat pane adds mention autocomplete (readable names, encode on save).
  actionState.setupEditor?.(actionState.editing, m);
  changed('messages');
  requestAnimationFrame(() => {
    grow();
    box.focus();
    box.setSelectionRange(box.value.length, box.value.length);
  });
  return actionState.editing;
}

export function cancelEdit(refocus = true) {
  const ed = actionState.editing;
  if (!ed) return;
  actionState.editing = null;
  changed('messages');
  if (refocus) requestAnimationFrame(() => document.querySelector(`[data-key="m${ed.id}"]`)?.focus({ preventScroll: true }) || document.getElementById('composer')?.focus());
}

async function saveEdit() {
  const ed = actionState.editing;
  if (!ed) return;
  const m = findMessage(ed.channelId, ed.id);
  const text = ed.box.value.trim();
  if (!m) {
    cancelEdit();
    return;
  }
  if (!text && !(m.embeds || []).length) {
    // An emptied message is a deletion, with its confirmation.
    cancelEdit(false);
    deleteMessage(m, false);
    return;
  }
  const content = ed.encode ? ed.encode(text) : text;
  if ([...content].length > 4000) {
    ed.error.textContent = `Too long by ${[...content].length - 4000} characters (the limit is 4000).`;
    return;
  }
  if (content === m.content) {
    cancelEdit();
    return;
  }
  ed.box.disabled = true;
  try {
    const fresh = await api.patch(`/channels/${m.channel_id}/messages/${m.id}`, { content });
    const keep = new Map((m.reactions || []).map((r) => [emojiKey(r.emoji), r.me]));
    Object.assign(m, fresh, { reactions: (fresh.reactions || []).map((r) => ({ ...r, me: keep.get(emojiKey(r.emoji)) ?? r.me })) });
    cancelEdit();
  } catch (e) {
    ed.box.disabled = false;
    ed.error.textContent = e.message;
    ed.box.focus();
  }
}

/** Delete `m`: asks first unless `skip` (Shift held while clicking). */
export function deleteMessage(m, skip) {
  if (!m?.id) return;
  const run = () => attempt(() => api.del(`/channels/${m.channel_id}/messages/${m.id}`), 'Message deleted.');
  if (skip) {
    run();
    return;
  }
  const opener = document.activeElement;
  const error = errorBox();
  const name = displayName(m.author.id, m.guild_id);
  const del = h('button', {
    class: 'btn btn-danger', type: 'button', onclick: async () => {
      del.disabled = true;
      try {
        await api.del(`/channels/${m.channel_id}/messages/${m.id}`);
        dlg.close();
        notify('Message deleted.');
      } catch (e) {
        del.disabled = false;
        error.textContent = e.message;
      }
    },
  }, 'Delete');
  const dlg = modal('Delete message', [
    h('p', {}, 'Are you sure you want to delete this message?'),
    h('blockquote', { class: 'quote-preview' }, h('strong', {}, name), h('div', {}, renderMarkdown(m.content.slice(0, 300), {}))),
    h('p', { class: 'hint' }, 'Tip: hold Shift while clicking Delete to skip this question.'),
    error,
    h('div', { class: 'dlg-actions' },
      h('button', { class: 'btn btn-quiet', type: 'button', onclick: () => dlg.close() }, 'Cancel'), del),
  ]);
  dlg.addEventListener('close', () => {
    if (opener?.isConnected) opener.focus({ preventScroll: true });
    else document.getElementById('composer')?.focus();
  });
  // The safe answer is the default one.
  dlg.querySelector('.dlg-actions .btn-quiet')?.focus();
}

// ------------------------------------------------------------- reply, pins

export function startReply(m) {
  if (!m?.id) return;
  actionState.reply = { channelId: m.channel_id, message: m, mention: !isMine(m) };
  changed('reply');
  requestAnimationFrame(() => document.getElementById('composer')?.focus());
}

export function cancelReply() {
  if (!actionState.reply) return;
  actionState.reply = null;
  changed('reply');
}

export function togglePin(m) {
  const path = `/channels/${m.channel_id}/pins/${m.id}`;
  return m.pinned
    ? attempt(() => api.del(path), 'Message unpinned.')
    : attempt(() => api.put(path), 'Message pinned.');
}

/** The link that opens a message: /channels/{guild or @me}/{channel}/{message}. */
export function messageLink(m) {
  return `${location.origin}/channels/${m.guild_id || '@me'}/${m.channel_id}/${m.id}`;
}

async function copy(text, done) {
  try {
    await navigator.clipboard.writeText(text);
    notify(done);
  } catch {
    const input = h('input', { readonly: true, value: text, 'aria-label': 'Link', id: 'copy-out' });
    modal('Copy', [h('label', { for: 'copy-out' }, 'Press Ctrl+C (or ⌘C) to copy'), input]);
    input.select();
  }
}

export const copyLink = (m) => copy(messageLink(m), 'Link copied.');

async function showVersions(m) {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  modal('Edit history', body, { wide: true });
  try {
    const versions = await api.get(`/channels/${m.channel_id}/messages/${m.id}/versions`);
    body.replaceChildren(versions.length
      ? h('ol', { class: 'versions' }, versions.map((v) => h('li', {},
        h('p', { class: 'hint' }, `${new Date(v.created_at).toLocaleString()} – replaced ${new Date(v.replaced_at).toLocaleString()}`),
        h('div', { class: 'msg-body' }, renderMarkdown(v.content || '', {})))))
      : h('p', { class: 'muted' }, 'This message was never edited.'));
  } catch (e) {
    body.replaceChildren(h('p', { class: 'form-error', role: 'alert' }, e.message));
  }
}

/** The "More" menu of a message. */
function moreMenu(opener, m) {
  const can = perms(m.channel_id);
  const items = [];
  if (can.pin && !SYSTEM.has(m.kind)) items.push([m.pinned ? 'Unpin message' : 'Pin message', () => togglePin(m)]);
  items.push(['Copy message link', () => copyLink(m)]);
  if (m.content) items.push(['Copy text', () => copy(m.content, 'Text copied.')]);
  if (can.manage && m.edited_at) items.push(['Edit history', () => showVersions(m)]);
  if (can.manage && (m.reactions || []).length) {
    items.push(['Remove all reactions', () => attempt(() => api.del(`/channels/${m.channel_id}/messages/${m.id}/reactions`), 'Reactions removed.'), true]);
  }
  menu(opener, items, 'Message actions');
}

/** The action bar of a message (shown on hover and when focus is inside it). */
export function actionBar(m, name) {
  if (!m.id) return null;
  const can = perms(m.channel_id);
  const mine = isMine(m);
  const system = SYSTEM.has(m.kind);
  const b = (key, label, content, onclick, extra = {}) => h('button', {
    type: 'button', class: 'act', 'data-key': `${key}${m.id}`, 'aria-label': label, title: label, onclick, ...extra,
  }, content);
  const buttons = [];
  if (can.react && !system) {
    for (const [e, n] of QUICK.slice(0, 3)) buttons.push(b(`q${e}`, `React with ${n}`, h('span', { class: 'act-emoji', 'aria-hidden': 'true' }, e), () => toggleReaction(m, e)));
    buttons.push(b('ar', 'Add reaction', icon('smile'), (e) => openPicker(e.currentTarget, (em) => toggleReaction(m, em)), { 'aria-haspopup': 'dialog', 'aria-expanded': 'false' }));
  }
  if (can.send && !system) buttons.push(b('rp', 'Reply', icon('reply'), () => startReply(m)));
  if (mine && !system) buttons.push(b('ed', 'Edit', icon('edit'), () => startEdit(m)));
  if (mine || can.manage) {
    buttons.push(b('dl', 'Delete (hold Shift to skip the question)', icon('trash'), (e) => deleteMessage(m, e.shiftKey), { class: 'act act-danger' }));
  }
  buttons.push(b('mo', 'More actions', icon('more'), (e) => moreMenu(e.currentTarget, m), { 'aria-haspopup': 'menu', 'aria-expanded': 'false' }));
  return h('div', { class: 'msg-actions', role: 'group', 'aria-label': `Actions for the message from ${name}` }, buttons);
}

/** Keyboard shortcuts on a focused message: E, R, Delete, P, C. */
export function messageKey(e, m) {
  if (e.altKey || e.ctrlKey || e.metaKey || !m?.id) return false;
  const can = perms(m.channel_id);
  const k = e.key.toLowerCase();
  if (k === 'e' && isMine(m)) startEdit(m);
  else if (k === 'r' && can.send) startReply(m);
  else if ((e.key === 'Delete' || e.key === 'Backspace') && (isMine(m) || can.manage)) deleteMessage(m, e.shiftKey);
  else if (k === 'p' && can.pin && !SYSTEM.has(m.kind)) togglePin(m);
  else if (k === '+' && can.react) {
    const opener = document.querySelector(`[data-key="ar${m.id}"]`);
    if (opener) openPicker(opener, (em) => toggleReaction(m, em));
    else return false;
  } else return false;
  return true;
}

// -------------------------------------------------------------- pins panel

/** The pinned messages of a channel, in a dialog: jump to each, unpin with manage_messages. */
export async function showPins(channelId) {
  const c = state.channels.get(channelId);
  if (!c) return;
  const body = h('div', { class: 'pins' }, h('p', { class: 'muted' }, 'Loading pinned messages…'));
  const dlg = modal(`Pinned messages${c.name ? ` in #${c.name}` : ''}`, body, { wide: true });
  dlg.classList.add('pins-dlg');
  const draw = async () => {
    try {
      const pins = await api.get(`/channels/${channelId}/pins`);
      const can = perms(channelId);
      body.replaceChildren(pins.length ? h('ol', { class: 'pin-list' }, pins.map((m) => {
        const name = displayName(m.author.id, m.guild_id) || m.author.display_name || m.author.username;
        return h('li', { class: 'pin' },
          h('p', { class: 'pin-head' }, h('strong', {}, name), ' ', h('time', { class: 'muted' }, new Date(m.created_at).toLocaleString())),
          h('div', { class: 'msg-body' }, renderMarkdown(m.content || '', {})),
          h('div', { class: 'pin-actions' },
            h('button', {
              class: 'btn btn-small', type: 'button', 'aria-label': `Jump to the message from ${name}`,
              onclick: () => {
                dlg.close();
                jumpTo(channelId, m.id);
              },
            }, 'Jump'),
            can.pin ? h('button', {
              class: 'btn btn-small btn-quiet', type: 'button', 'aria-label': `Unpin the message from ${name}`,
              onclick: async () => {
                if (await attempt(() => api.del(`/channels/${channelId}/pins/${m.id}`), 'Message unpinned.')) draw();
              },
            }, 'Unpin') : null));
      })) : h('p', { class: 'muted' }, 'No pinned messages yet. Pin one from its “More actions” menu.'));
    } catch (e) {
      body.replaceChildren(h('p', { class: 'form-error', role: 'alert' }, e.message));
    }
  };
  await draw();
  dlg.querySelector('.pin-actions button, .dlg-head button')?.focus();
}
