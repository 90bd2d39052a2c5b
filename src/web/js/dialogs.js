// Modal dialogs (native <dialog>: focus is trapped and Escape closes) for
// creating and joining servers, channels, invites and group DMs. A refused
// request shows the server's own message.

import { h, icon } from './dom.js';
import * as api from './api.js';
import { state, displayName, guildChannels } from './state.js';
import { navigate, openGuildWhenReady } from './app.js';

let uid = 0;

export function errorBox() {
  return h('p', { class: 'form-error', role: 'alert' });
}

/** Show a modal dialog; it removes itself when closed. */
export function modal(title, children, { wide = false } = {}) {
  const titleId = `dlg${++uid}`;
  const dlg = h('dialog', { class: `dlg${wide ? ' dlg-wide' : ''}`, 'aria-labelledby': titleId },
    h('header', { class: 'dlg-head' }, h('h2', { id: titleId }, title),
      h('button', { class: 'icon-btn', type: 'button', 'aria-label': 'Close', onclick: () => dlg.close() }, icon('close'))),
    h('div', { class: 'dlg-body' }, children));
  dlg.addEventListener('close', () => dlg.remove());
  dlg.addEventListener('click', (e) => {
    if (e.target === dlg) dlg.close();
  });
  document.body.append(dlg);
  dlg.showModal();
  const first = dlg.querySelector('.dlg-body input:not([type=hidden]), .dlg-body select, .dlg-body textarea, .dlg-body button');
  first?.focus();
  return dlg;
}

export function closeDialogs() {
  document.querySelectorAll('dialog').forEach((d) => d.close());
}

export function field(label, attrs, hint = null) {
  const id = `in${++uid}`;
  const input = attrs.tag === 'select'
    ? h('select', { id, name: attrs.name }, attrs.options)
    : h(attrs.tag || 'input', { id, ...attrs, tag: null, options: null });
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('p', { class: 'hint' }, hint) : null);
}

/** A form that runs `action(data)`; errors land in its alert box. */
export function form(fields, submitLabel, action) {
  const error = errorBox();
  const submit = h('button', { class: 'btn btn-primary', type: 'submit' }, submitLabel);
  const f = h('form', { class: 'dlg-form' }, fields, error, h('div', { class: 'dlg-actions' }, submit));
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    submit.disabled = true;
    try {
      await action(Object.fromEntries(new FormData(f)), f);
    } catch (err) {
      error.textContent = err.message;
    } finally {
      submit.disabled = false;
    }
  });
  return f;
}

export function showCreateGuild() {
  const create = form([field('Server name', { name: 'name', required: true, maxlength: 100, autocomplete: 'off' })], 'Create server', async (d) => {
    const g = await api.post('/guilds', { name: d.name });
    dlg.close();
    openGuildWhenReady(g.id);
  });
  const join = form([field('Invite link or code', { name: 'code', required: true, autocomplete: 'off', placeholder: 'https://…/invite/AbCdEf2345' })], 'Continue', async (d) => {
    const code = d.code.trim().split('/').filter(Boolean).pop() || '';
    dlg.close();
    showInvite(code);
  });
  const dlg = modal('Add a server', [
    h('section', {}, h('h3', {}, 'Create your own'), create),
    h('hr'),
    h('section', {}, h('h3', {}, 'Join with an invite'), join),
  ]);
}

export function showCreateChannel(guildId, parentId, kind = 'text') {
  const category = kind === 'category';
  const cats = guildChannels(guildId).filter((c) => c.kind === 'category');
  const fields = [field(category ? 'Category name' : 'Channel name', { name: 'name', required: true, maxlength: 100, autocomplete: 'off' })];
  if (!category) {
    fields.push(field('Type', {
      tag: 'select', name: 'kind',
      options: [h('option', { value: 'text' }, 'Text'), h('option', { value: 'voice' }, 'Voice')],
    }));
    fields.push(field('Category', {
      tag: 'select', name: 'parent_id',
      options: [h('option', { value: '' }, 'None'), ...cats.map((c) => h('option', { value: c.id, selected: c.id === parentId }, c.name))],
    }));
    fields.push(field('Topic (optional)', { name: 'topic', maxlength: 1024, autocomplete: 'off' }));
  }
  const f = form(fields, category ? 'Create category' : 'Create channel', async (d) => {
    const body = { name: d.name, kind: category ? 'category' : d.kind };
    if (!category && d.parent_id) body.parent_id = d.parent_id;
    if (!category && d.topic) body.topic = d.topic;
    const c = await api.post(`/guilds/${guildId}/channels`, body);
    state.channels.set(c.id, c);
    dlg.close();
    if (!category) navigate(`/channels/${guildId}/${c.id}`);
  });
  const dlg = modal(category ? 'Create a category' : 'Create a channel', f);
}

export async function showCreateInvite(channelId) {
  const error = errorBox();
  const out = h('div', { class: 'invite-out' }, h('p', { class: 'muted' }, 'Creating an invite…'));
  modal('Invite people', [out, error]);
  try {
    const inv = await api.post(`/channels/${channelId}/invites`, {});
    const url = `${location.origin}/invite/${inv.code}`;
    const input = h('input', { id: 'invite-link', readonly: true, value: url });
    const copy = h('button', {
      class: 'btn btn-primary', type: 'button', onclick: async () => {
        try {
          await navigator.clipboard.writeText(url);
          copy.textContent = 'Copied';
        } catch {
          input.select();
          copy.textContent = 'Press Ctrl+C to copy';
        }
      },
    }, 'Copy');
    const expires = inv.expires_at ? `It expires ${new Date(inv.expires_at).toLocaleString()}.` : 'It never expires.';
    out.replaceChildren(
      h('label', { for: 'invite-link' }, 'Send this link to a friend'),
      h('div', { class: 'row' }, input, copy),
      h('p', { class: 'hint' }, expires));
    input.focus();
    input.select();
  } catch (err) {
    out.replaceChildren();
    error.textContent = err.message;
  }
}

/** Preview an invite and join its server. */
export async function showInvite(code) {
  const error = errorBox();
  const body = h('div', {}, h('p', { class: 'muted' }, 'Looking up the invite…'));
  const dlg = modal('Join a server', [body, error]);
  try {
    const inv = await api.get(`/invites/${encodeURIComponent(code)}`);
    const already = state.guilds.has(inv.guild.id);
    const join = h('button', {
      class: 'btn btn-primary', type: 'button', onclick: async () => {
        error.textContent = '';
        join.disabled = true;
        try {
          if (!already) await api.post(`/invites/${encodeURIComponent(code)}`);
          dlg.close();
          openGuildWhenReady(inv.guild.id);
        } catch (err) {
          if (err.code === 'conflict') {
            // Already a member (the guild list may not have been loaded yet).
            dlg.close();
            openGuildWhenReady(inv.guild.id);
            return;
          }
          join.disabled = false;
          error.textContent = err.message;
        }
      },
    }, already ? `Open ${inv.guild.name}` : `Join ${inv.guild.name}`);
    body.replaceChildren(
      h('p', {}, 'You have been invited to'),
      h('p', { class: 'big' }, inv.guild.name),
      h('p', { class: 'muted' }, `${inv.member_count} member${inv.member_count === 1 ? '' : 's'}${inv.channel_name ? ` · #${inv.channel_name}` : ''}`),
      h('div', { class: 'dlg-actions' }, join));
    join.focus();
  } catch (err) {
    body.replaceChildren();
    error.textContent = err.code === 'unknown_invite' ? 'This invite is invalid, expired or used up.' : err.message;
  }
}

/**
 * Start a DM or a group DM. Friends come first: by default only friends may
 * add someone to a group (one person alone opens a DM, which server members
 * may do).
 */
export function showGroupDm() {
  const isFriend = (u) => state.relationships.get(u.id) === 'friend';
  const people = [...state.users.values()].filter((u) => u.id !== state.me?.id && u.username)
    .sort((a, b) => (isFriend(b) - isFriend(a)) || displayName(a.id).localeCompare(displayName(b.id)));
  const boxes = people.map((u) => {
    const id = `gd-${u.id}`;
    const label = `${displayName(u.id)} (@${u.username})${isFriend(u) ? ' · friend' : ''}`;
    return h('li', {}, h('input', { type: 'checkbox', id, name: 'r', value: u.id }), h('label', { for: id }, label));
  });
  const f = form([
    people.length
      ? h('fieldset', {}, h('legend', {}, 'People (up to 9)'),
        h('p', { class: 'muted' }, 'Pick one person for a direct message. Groups are for friends: most people only accept group invitations from friends.'),
        h('ul', { class: 'check-list scroll' }, boxes))
      : h('p', { class: 'muted' }, 'Join a server first: you can message the people you share one with.'),
    field('Group name (optional)', { name: 'name', maxlength: 100, autocomplete: 'off' }),
  ], 'Create', async (_d, el) => {
    const ids = [...el.querySelectorAll('input[name=r]:checked')].map((i) => i.value);
    const name = el.querySelector('input[name=name]').value.trim();
    const body = ids.length === 1 && !name ? { recipient_id: ids[0] } : { recipient_ids: ids };
    if (name && ids.length) body.name = name;
    const c = await api.post('/users/@me/channels', body);
    state.channels.set(c.id, c);
    dlg.close();
    navigate(`/channels/@me/${c.id}`);
  });
  const dlg = modal('New message', f);
}

export function confirmLeaveGuild(guildId) {
  const g = state.guilds.get(guildId);
  const error = errorBox();
  const dlg = modal(`Leave ${g.guild.name}?`, [
    h('p', {}, 'You will need a new invite to come back.'),
    error,
    h('div', { class: 'dlg-actions' },
      h('button', { class: 'btn btn-quiet', type: 'button', onclick: () => dlg.close() }, 'Cancel'),
      h('button', {
        class: 'btn btn-danger', type: 'button', onclick: async () => {
          try {
            await api.del(`/users/@me/guilds/${guildId}`);
            dlg.close();
            navigate('/channels/@me');
          } catch (err) {
            error.textContent = err.message;
          }
        },
      }, 'Leave server')),
  ]);
}
