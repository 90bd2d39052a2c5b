// The server rail (home + guilds) and the channel sidebar (channels by
// category, or the DM list), with the signed-in user's panel at the bottom.

import { h, replace, avatar, icon, hue } from './dom.js';
import {
  state, guildChannels, dmChannels, channelTitle, guildUnread, displayName, byPosition, pendingIncoming,
} from './state.js';
import { navigate, logout, setPresence } from './app.js';
import { basePermissions, channelPermissions, has } from './permissions.js';
import {
  showCreateGuild, showCreateChannel, showInvite, showCreateInvite, showGroupDm, confirmLeaveGuild,
} from './dialogs.js';
import { showGuildSettings, showChannelSettings, showUserSettings } from './settings.js';
import { voiceUsers, voicePanel, voiceRowClicked } from './voice.js';

const STATUS_LABEL = { online: 'Online', idle: 'Idle', dnd: 'Do not disturb', offline: 'Offline' };
export { STATUS_LABEL };

/** A presence dot with a text alternative (colour is never the only cue). */
export function dot(userId) {
  const s = state.presences.get(userId) || 'offline';
  return h('span', { class: `dot dot-${s}`, role: 'img', 'aria-label': STATUS_LABEL[s], title: STATUS_LABEL[s] });
}

function link(href, attrs, ...children) {
  return h('a', {
    href,
    onclick: (e) => {
      if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
      e.preventDefault();
      navigate(href);
    },
    ...attrs,
  }, ...children);
}

function badge(u, label) {
  if (u.mentions) return h('span', { class: 'badge', 'aria-hidden': 'true' }, String(u.mentions));
  if (u.count) return h('span', { class: 'unread-dot', 'aria-hidden': 'true' });
  return null;
}

function unreadLabel(u) {
  if (u.mentions) return `, ${u.mentions} mention${u.mentions === 1 ? '' : 's'}`;
  return u.count ? ', unread messages' : '';
}

function pendingLabel(n) {
  return n ? `, ${n} friend request${n === 1 ? '' : 's'}` : '';
}

export function renderRail(el) {
  const home = guildUnread('@me');
  const pending = pendingIncoming();
  // Friend requests count on the home icon like mentions do.
  const homeBadge = { ...home, mentions: home.mentions + pending };
  const cur = state.current.guildId;
  const items = [
    h('li', {}, link('/channels/@me', {
      class: 'rail-item rail-home', 'data-key': 'home', 'aria-current': cur === '@me' ? 'page' : false,
      'aria-label': `Direct messages${unreadLabel(home)}${pendingLabel(pending)}`, title: 'Direct messages',
    }, h('img', { src: '/assets/icon.svg', alt: '', width: 28, height: 28 }), badge(homeBadge))),
    h('li', { class: 'rail-sep', 'aria-hidden': 'true' }),
  ];
  const guilds = [...state.guilds.values()].sort((a, b) => (a.guild.id < b.guild.id ? -1 : 1));
  for (const g of guilds) {
    const u = guildUnread(g.guild.id);
    const initials = g.guild.name.split(/\s+/).map((w) => w.slice(0, 1)).join('').slice(0, 3);
    const a = link(`/channels/${g.guild.id}`, {
      class: `rail-item${u.count ? ' has-unread' : ''}`, 'data-key': `g${g.guild.id}`,
      'aria-current': cur === g.guild.id ? 'page' : false,
      'aria-label': `${g.guild.name}${unreadLabel(u)}`, title: g.guild.name,
    }, h('span', { 'aria-hidden': 'true' }, initials), badge(u));
    a.style.setProperty('--hue', String(hue(g.guild.id)));
    items.push(h('li', {}, a));
  }
  items.push(h('li', {}, h('button', {
    class: 'rail-item rail-add', type: 'button', 'data-key': 'add-guild',
    'aria-label': 'Create or join a server', title: 'Create or join a server', onclick: showCreateGuild,
  }, icon('plus'))));
  replace(el, h('ul', { class: 'rail-list' }, items));
}

export function renderSidebar(el) {
  const gid = state.current.guildId;
  const body = gid === '@me' || !state.guilds.has(gid) ? dmList() : guildList(gid);
  replace(el, body, voicePanel(), userPanel());
}

function dmList() {
  const items = dmChannels().map((c) => {
    const u = state.unread.get(c.id) || { count: 0, mentions: 0 };
    const other = c.kind === 'dm' ? c.recipients.find((id) => id !== state.me?.id) : null;
    return h('li', {}, link(`/channels/@me/${c.id}`, {
      class: `chan dm${u.count ? ' unread' : ''}`, 'data-key': `c${c.id}`,
      'aria-current': state.current.channelId === c.id ? 'page' : false,
    }, h('span', { class: 'avatar-wrap' }, avatar(other || c.id, channelTitle(c), 'sm'), other ? dot(other) : null),
    h('span', { class: 'chan-name' }, channelTitle(c)),
    c.kind === 'group_dm' ? h('span', { class: 'visually-hidden' }, ', group') : null,
    h('span', { class: 'visually-hidden' }, unreadLabel(u)), badge(u)));
  });
  const pending = pendingIncoming();
  const friends = h('ul', { class: 'chan-list' }, h('li', {}, link('/channels/@me', {
    class: 'chan friends-link', 'data-key': 'friends',
    'aria-current': state.current.guildId === '@me' && !state.current.channelId ? 'page' : false,
  }, h('span', { class: 'chan-icon', 'aria-hidden': 'true' }, icon('people')), h('span', { class: 'chan-name' }, 'Friends'),
  h('span', { class: 'visually-hidden' }, pendingLabel(pending)),
  pending ? h('span', { class: 'badge', 'aria-hidden': 'true' }, String(pending)) : null)));
  return h('div', { class: 'side-body' },
    h('header', { class: 'side-head' }, h('h2', {}, 'Direct messages'),
      h('button', { class: 'icon-btn', type: 'button', 'data-key': 'new-group', 'aria-label': 'New group message', title: 'New group message', onclick: showGroupDm }, icon('plus'))),
    friends,
    items.length
      ? h('ul', { class: 'chan-list', 'aria-label': 'Conversations' }, items)
      : h('p', { class: 'empty' }, 'No conversations yet. Message a friend, or someone from a server’s member list.'));
}

const collapsed = new Set();

function guildList(gid) {
  const g = state.guilds.get(gid);
  const perms = basePermissions(gid);
  const canManage = has(perms, 'manage_channels');
  const all = guildChannels(gid);
  const chanItem = (c) => {
    const u = state.unread.get(c.id) || { count: 0, mentions: 0 };
    const cp = channelPermissions(c);
    // A voice channel's row opens its text chat and joins its voice
    // (voice.js); the people in it are listed right under it.
    const glyph = c.kind === 'voice' ? icon('speaker') : '#';
    const row = h('li', { class: 'chan-row' },
      link(`/channels/${gid}/${c.id}`, {
        class: `chan${u.count ? ' unread' : ''}`, 'data-key': `c${c.id}`, 'data-kind': c.kind,
        'aria-current': state.current.channelId === c.id ? 'page' : false,
      }, h('span', { class: 'chan-icon', 'aria-hidden': 'true' }, glyph),
      h('span', { class: 'chan-name' }, c.name),
      h('span', { class: 'visually-hidden' }, `${c.kind === 'voice' ? ', voice channel' : ''}${unreadLabel(u)}`),
      badge(u)),
      has(cp, 'manage_channels') || has(cp, 'manage_roles')
        ? h('button', {
          class: 'icon-btn chan-gear', type: 'button', 'data-key': `s${c.id}`,
          'aria-label': `Settings for ${c.name}`, title: 'Channel settings', onclick: () => showChannelSettings(c.id),
        }, icon('gear'))
        : null);
    if (c.kind !== 'voice') return row;
    row.querySelector('a.chan').addEventListener('click', (e) => voiceRowClicked(e, gid, c.id));
    return [row, voiceUsers(c)];
  };
  const top = all.filter((c) => c.kind !== 'category' && !all.some((p) => p.id === c.parent_id));
  const sections = [h('ul', { class: 'chan-list', 'aria-label': 'Channels' }, top.map(chanItem))];
  for (const cat of all.filter((c) => c.kind === 'category').sort(byPosition)) {
    const kids = all.filter((c) => c.parent_id === cat.id);
    const open = !collapsed.has(cat.id);
    const listId = `cat-${cat.id}`;
    sections.push(h('section', { class: 'cat' },
      h('h3', { class: 'cat-head' },
        h('button', {
          type: 'button', class: 'cat-toggle', 'data-key': `t${cat.id}`, 'aria-expanded': String(open), 'aria-controls': listId,
          onclick: () => {
            if (open) collapsed.add(cat.id);
            else collapsed.delete(cat.id);
            renderSidebar(document.querySelector('.sidebar'));
          },
        }, h('span', { 'aria-hidden': 'true', class: 'caret' }, open ? '▾' : '▸'), cat.name),
        canManage ? h('button', {
          class: 'icon-btn', type: 'button', 'data-key': `n${cat.id}`, 'aria-label': `Create channel in ${cat.name}`,
          title: 'Create channel', onclick: () => showCreateChannel(gid, cat.id),
        }, icon('plus')) : null,
        canManage ? h('button', {
          class: 'icon-btn', type: 'button', 'data-key': `s${cat.id}`, 'aria-label': `Settings for category ${cat.name}`,
          title: 'Category settings', onclick: () => showChannelSettings(cat.id),
        }, icon('gear')) : null),
      h('ul', { class: 'chan-list', id: listId, hidden: !open }, kids.map(chanItem))));
  }
  const firstText = all.find((c) => c.kind === 'text' || c.kind === 'voice');
  const canInvite = firstText && has(channelPermissions(state.channels.get(state.current.channelId) || firstText), 'create_invites');
  const actions = [
    canInvite ? h('button', { class: 'btn btn-small', type: 'button', 'data-key': 'invite', onclick: () => showCreateInvite(state.current.channelId || firstText.id) }, 'Invite people') : null,
    canManage ? h('button', { class: 'btn btn-small', type: 'button', 'data-key': 'new-chan', onclick: () => showCreateChannel(gid, null) }, 'New channel') : null,
    canManage ? h('button', { class: 'btn btn-small', type: 'button', 'data-key': 'new-cat', onclick: () => showCreateChannel(gid, null, 'category') }, 'New category') : null,
  ].filter(Boolean);
  return h('div', { class: 'side-body' },
    h('header', { class: 'side-head' }, h('h2', {}, g.guild.name),
      h('button', {
        class: 'icon-btn', type: 'button', 'data-key': 'guild-settings', 'aria-label': 'Server settings', title: 'Server settings',
        onclick: () => showGuildSettings(gid),
      }, icon('gear'))),
    actions.length ? h('div', { class: 'side-actions' }, actions) : null,
    sections,
    g.guild.owner_id !== state.me?.id
      ? h('button', { class: 'btn btn-small btn-quiet leave', type: 'button', 'data-key': 'leave', onclick: () => confirmLeaveGuild(gid) }, 'Leave server')
      : null);
}

function userPanel() {
  const me = state.me;
  if (!me) return h('div', { class: 'me-panel' }, h('span', { class: 'muted' }, 'Connecting…'));
  const status = state.presences.get(me.id) || 'online';
  const select = h('select', {
    id: 'status-select', 'data-key': 'status', 'aria-label': 'Your status',
    onchange: (e) => setPresence(e.target.value),
  }, Object.entries(STATUS_LABEL).map(([v, l]) => h('option', { value: v, selected: v === status }, v === 'offline' ? 'Invisible' : l)));
  return h('section', { class: 'me-panel', 'aria-label': 'You' },
    h('span', { class: 'avatar-wrap' }, avatar(me.id, me.display_name || me.username, 'sm'), dot(me.id)),
    // The status picker sits under the name, leaving room for two buttons.
    h('span', { class: 'me-names', title: `@${me.username}` }, h('span', { class: 'me-name' }, me.display_name || me.username), select),
    h('button', { class: 'icon-btn', type: 'button', 'data-key': 'user-settings', 'aria-label': 'Privacy settings', title: 'Privacy settings', onclick: showUserSettings }, icon('gear')),
    h('button', { class: 'icon-btn', type: 'button', 'data-key': 'logout', 'aria-label': 'Log out', title: 'Log out', onclick: () => logout() }, icon('logout')));
}

export { displayName, showInvite };
