// Mention autocomplete for a message box: typing @ suggests members (and
// roles that may be mentioned, @everyone and @here when permitted), # the
// server's channels. Arrow keys move, Enter or Tab picks, Escape dismisses.
// The box shows readable names (@alice, @Moderators, #general); `encode`
// turns the picked ones into the mention syntax (<@id>, <@&id>, <#id>) when
// the message is sent, and `decode` does the reverse for editing.

import { h } from './dom.js';
import { state, displayName, guildChannels, byPosition } from './state.js';
import { channelPermissions, has } from './permissions.js';

let uid = 0;
const MAX = 8;
const TOKEN = /(^|[\s(])([@#])([\p{L}\p{N}_.-]{0,32})$/u;

function esc(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** What may be suggested for `sigil` and `query` in `channel`. */
function candidates(channel, sigil, query) {
  const q = query.toLowerCase();
  const fits = (...names) => names.some((n) => n && n.toLowerCase().startsWith(q));
  const out = [];
  if (!channel) return out;
  const gid = channel.guild_id;
  if (sigil === '#') {
    if (!gid) return out;
    for (const c of guildChannels(gid)) {
      if (c.kind === 'category' || !has(channelPermissions(c), 'view_channel') || !fits(c.name)) continue;
      out.push({ text: `#${c.name}`, syntax: `<#${c.id}>`, label: `#${c.name}`, hint: c.kind === 'voice' ? 'voice channel' : 'channel', key: `c${c.id}` });
    }
    return out.slice(0, MAX);
  }
  const people = gid
    ? [...(state.guilds.get(gid)?.members.values() || [])].map((m) => m.user)
    : channel.recipients.map((id) => state.users.get(id)).filter(Boolean);
  for (const u of people) {
    const name = displayName(u.id, gid);
    if (!fits(u.username, name, u.display_name)) continue;
    out.push({ text: `@${u.username}`, syntax: `<@${u.id}>`, label: name, hint: `@${u.username}`, key: `u${u.id}` });
  }
  out.sort((a, b) => a.label.localeCompare(b.label));
  if (gid) {
    const g = state.guilds.get(gid);
    const everyone = has(channelPermissions(channel), 'mention_everyone');
    const roles = [...g.roles.values()].filter((r) => r.id !== gid && (r.mentionable || everyone)).sort(byPosition).reverse();
    for (const r of roles) {
      if (!fits(r.name)) continue;
      out.push({ text: `@${r.name}`, syntax: `<@&${r.id}>`, label: `@${r.name}`, hint: 'role', key: `r${r.id}` });
    }
    if (everyone) {
      for (const [w, hint] of [['everyone', 'everyone in the channel'], ['here', 'everyone online in the channel']]) {
        if (w.startsWith(q)) out.push({ text: `@${w}`, syntax: `@${w}`, label: `@${w}`, hint, key: w });
      }
    }
  }
  return out.slice(0, MAX);
}

/**
 * Attach to `input` (a textarea); the list is drawn into `host`.
 * `channel()` gives the channel written to.
 */
export function attachAutocomplete(input, host, channel) {
  const listId = `ac${++uid}`;
  const list = h('ul', { class: 'autocomplete', id: listId, role: 'listbox', 'aria-label': 'Suggestions', hidden: true });
  host.append(list);
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-controls', listId);
  input.setAttribute('aria-expanded', 'false');
  const picks = new Map(); // readable text → syntax
  let items = [];
  let active = 0;
  let token = null;

  function close() {
    items = [];
    token = null;
    list.hidden = true;
    list.replaceChildren();
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
  }

  function draw() {
    list.replaceChildren(...items.map((it, i) => h('li', {
      id: `${listId}-${i}`, role: 'option', class: 'ac-item', 'aria-selected': String(i === active),
      onmousedown: (e) => {
        e.preventDefault();
        pick(i);
      },
    }, h('span', { class: 'ac-label' }, it.label), h('span', { class: 'ac-hint' }, it.hint))));
    list.hidden = !items.length;
    input.setAttribute('aria-expanded', String(Boolean(items.length)));
    if (items.length) input.setAttribute('aria-activedescendant', `${listId}-${active}`);
    else input.removeAttribute('aria-activedescendant');
  }

  function update() {
    const before = input.value.slice(0, input.selectionStart);
    const m = input.selectionStart === input.selectionEnd ? TOKEN.exec(before) : null;
    if (!m) {
      close();
      return;
    }
    token = { start: before.length - m[2].length - m[3].length, end: before.length };
    items = candidates(channel(), m[2], m[3]);
    active = 0;
    draw();
  }

  function pick(i) {
    const it = items[i];
    if (!it || !token) return;
    const v = input.value;
    const insert = `${it.text} `;
    input.value = v.slice(0, token.start) + insert + v.slice(token.end);
    const at = token.start + insert.length;
    input.setSelectionRange(at, at);
    if (it.text !== it.syntax) picks.set(it.text, it.syntax);
    close();
    input.dispatchEvent(new Event('input', { bubbles: true }));
  }

  input.addEventListener('input', update);
  input.addEventListener('click', update);
  input.addEventListener('blur', () => setTimeout(close, 100));
  // Capture: picking must win over the box's own Enter (send) and Escape.
  input.addEventListener('keydown', (e) => {
    if (list.hidden || !items.length) return;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      active = (active + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length;
      draw();
    } else if ((e.key === 'Enter' && !e.shiftKey) || e.key === 'Tab') {
      pick(active);
    } else if (e.key === 'Escape') {
      close();
    } else {
      return;
    }
    e.preventDefault();
    e.stopImmediatePropagation();
  }, true);

  return {
    isOpen: () => !list.hidden,
    close,
    /** Readable text → text with mention syntax for what was picked. */
    encode(text) {
      let out = text;
      const keys = [...picks.keys()].sort((a, b) => b.length - a.length);
      for (const k of keys) {
        out = out.replace(new RegExp(`${esc(k)}(?![\\p{L}\\p{N}_-])`, 'gu'), picks.get(k));
      }
      return out;
    },
    /** Stored content → readable text for editing (remembering the mentions). */
    decode(content, guildId) {
      const g = guildId ? state.guilds.get(guildId) : null;
      return content
        .replace(/<@!?(\d{1,20})>/g, (all, id) => {
          const u = state.users.get(id) || g?.members.get(id)?.user;
          if (!u?.username) return all;
          picks.set(`@${u.username}`, `<@${id}>`);
          return `@${u.username}`;
        })
        .replace(/<@&(\d{1,20})>/g, (all, id) => {
          const r = g?.roles.get(id);
          if (!r) return all;
          picks.set(`@${r.name}`, all);
          return `@${r.name}`;
        })
        .replace(/<#(\d{1,20})>/g, (all, id) => {
          const c = state.channels.get(id);
          if (!c?.name) return all;
          picks.set(`#${c.name}`, all);
          return `#${c.name}`;
        });
    },
    forget() {
      picks.clear();
      close();
    },
  };
}
