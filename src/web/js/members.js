// The member list (online first, with presence) and a member's card:
// message them, befriend or block them, and — with the permission — give or
// take roles, or kick.

import { h, replace, avatar, icon } from './dom.js';
import { state, displayName, byPosition, relationship } from './state.js';
import * as api from './api.js';
import { navigate } from './app.js';
import { basePermissions, has } from './permissions.js';
import { dot, STATUS_LABEL } from './sidebar.js';
import { modal, errorBox } from './dialogs.js';
import { relate } from './friends.js';

function roleColor(g, m) {
  const r = m.roles.map((id) => g.roles.get(id)).filter((x) => x && x.color).sort((a, b) => b.position - a.position)[0];
  return r ? `#${r.color.toString(16).padStart(6, '0')}` : null;
}

function row(g, m) {
  const name = displayName(m.user.id, g.guild.id);
  const status = state.presences.get(m.user.id) || 'offline';
  const nameEl = h('span', { class: 'member-name' }, name);
  const color = roleColor(g, m);
  if (color) nameEl.style.setProperty('--role-color', color);
  return h('li', {}, h('button', {
    type: 'button', class: `member member-${status}`, 'data-key': `m${m.user.id}`,
    'aria-label': `${name}, ${STATUS_LABEL[status]}`, onclick: () => showMember(g.guild.id, m.user.id),
  }, h('span', { class: 'avatar-wrap' }, avatar(m.user.id, name, 'sm'), dot(m.user.id)), nameEl,
  g.guild.owner_id === m.user.id ? h('span', { class: 'owner', title: 'Server owner' }, icon('star'), h('span', { class: 'visually-hidden' }, 'owner')) : null));
}

export function renderMembers(el) {
  const g = state.guilds.get(state.current.guildId);
  if (!g) {
    const c = state.channels.get(state.current.channelId);
    if (c && !c.guild_id) {
      const people = c.recipients.map((id) => state.users.get(id)).filter(Boolean);
      replace(el, h('h2', { class: 'members-head' }, `Members — ${people.length}`),
        h('ul', { class: 'member-list' }, people.map((u) => h('li', {}, h('span', { class: 'member' },
          avatar(u.id, displayName(u.id), 'sm'), h('span', { class: 'member-name' }, displayName(u.id)))))));
    } else {
      replace(el);
    }
    return;
  }
  const members = [...g.members.values()].sort((a, b) => displayName(a.user.id, g.guild.id)
    .localeCompare(displayName(b.user.id, g.guild.id)));
  const online = members.filter((m) => (state.presences.get(m.user.id) || 'offline') !== 'offline');
  const offline = members.filter((m) => (state.presences.get(m.user.id) || 'offline') === 'offline');
  replace(el,
    h('h2', { class: 'members-head' }, `Online — ${online.length}`),
    h('ul', { class: 'member-list' }, online.map((m) => row(g, m))),
    offline.length ? h('h2', { class: 'members-head' }, `Offline — ${offline.length}`) : null,
    h('ul', { class: 'member-list' }, offline.map((m) => row(g, m))),
    g.members.size < g.memberCount ? h('p', { class: 'muted small' }, `${g.memberCount} members`) : null);
}

/** Open (or create) a 1:1 DM with a user and show it. */
export async function openDm(userId) {
  // A DM already known needs no request (opening DMs is rate-limited: dm_opens).
  const known = [...state.channels.values()].find((x) => x.kind === 'dm' && x.recipients.includes(userId));
  if (known) {
    navigate(`/channels/@me/${known.id}`);
    return;
  }
  const c = await api.post('/users/@me/channels', { recipient_id: userId });
  state.channels.set(c.id, c);
  navigate(`/channels/@me/${c.id}`);
}

function showMember(guildId, userId) {
  const g = state.guilds.get(guildId);
  const m = g?.members.get(userId);
  if (!m) return;
  const perms = basePermissions(guildId);
  const error = errorBox();
  const myTop = Math.max(0, ...g.member.roles.map((r) => g.roles.get(r)?.position || 0));
  const owner = g.guild.owner_id === state.me.id;
  const roles = [...g.roles.values()].filter((r) => r.id !== guildId).sort(byPosition).reverse();
  const canRoles = has(perms, 'manage_roles');
  const roleBoxes = roles.map((r) => {
    const id = `mr-${r.id}`;
    const box = h('input', {
      type: 'checkbox', id, checked: m.roles.includes(r.id), disabled: !canRoles || (!owner && r.position >= myTop),
      onchange: async (e) => {
        error.textContent = '';
        try {
          const path = `/guilds/${guildId}/members/${userId}/roles/${r.id}`;
          if (e.target.checked) await api.put(path);
          else await api.del(path);
        } catch (err) {
          e.target.checked = !e.target.checked;
          error.textContent = err.message;
        }
      },
    });
    const sw = h('span', { class: 'swatch', 'aria-hidden': 'true' });
    if (r.color) sw.style.setProperty('--swatch', `#${r.color.toString(16).padStart(6, '0')}`);
    return h('li', {}, box, h('label', { for: id }, sw, r.name));
  });
  const name = displayName(userId, guildId);
  const actions = [];
  if (userId !== state.me.id) {
    actions.push(h('button', {
      class: 'btn btn-primary', type: 'button', onclick: async () => {
        try {
          await openDm(userId);
          dlg.close();
        } catch (err) {
          error.textContent = err.message;
        }
      },
    }, `Message ${name}`));
    actions.push(...relationshipButtons(userId, name, error, () => dlg.close()));
    if (has(perms, 'kick_members')) {
      actions.push(h('button', {
        class: 'btn btn-danger', type: 'button', onclick: async () => {
          try {
            await api.del(`/guilds/${guildId}/members/${userId}`);
            dlg.close();
          } catch (err) {
            error.textContent = err.message;
          }
        },
      }, 'Kick'));
    }
  }
  const dlg = modal(name, [
    h('div', { class: 'member-card' }, avatar(userId, name, 'lg'),
      h('div', {}, h('p', { class: 'big' }, name), h('p', { class: 'muted' }, `@${m.user.username}`),
        h('p', {}, dot(userId), ' ', STATUS_LABEL[state.presences.get(userId) || 'offline']))),
    roles.length ? h('fieldset', { class: 'roles-box' }, h('legend', {}, 'Roles'), h('ul', { class: 'check-list' }, roleBoxes)) : null,
    error,
    h('div', { class: 'dlg-actions' }, actions),
  ]);
}

/** Friend and block buttons for a member card, by how you stand with them. */
function relationshipButtons(userId, name, error, close) {
  const run = (fn) => async () => {
    error.textContent = '';
    try {
      await fn(userId);
      close();
    } catch (err) {
      error.textContent = err.message;
    }
  };
  const b = (label, fn, cls = 'btn') => h('button', { class: cls, type: 'button', onclick: run(fn) }, label);
  switch (relationship(userId)) {
    case 'blocked':
      return [b('Unblock', relate.remove)];
    case 'friend':
      return [b('Remove friend', relate.remove), b('Block', relate.block, 'btn btn-danger')];
    case 'incoming':
      return [b('Accept friend request', relate.accept), b('Block', relate.block, 'btn btn-danger')];
    case 'outgoing':
      return [b('Cancel friend request', relate.remove), b('Block', relate.block, 'btn btn-danger')];
    default:
      return [b('Add friend', relate.request), b(`Block`, relate.block, 'btn btn-danger')];
  }
}
