// The Friends view (home, with no conversation open): friends online or all,
// pending requests with accept/decline/cancel, blocked users, and adding a
// friend by username. Also the relationship actions the member card uses.

import { h, replace, avatar } from './dom.js';
import * as api from './api.js';
import { state, displayName } from './state.js';
import { dot, STATUS_LABEL } from './sidebar.js';
import { openDm } from './members.js';

const path = (id) => `/users/@me/relationships/${id}`;

/** The relationship calls (docs/api.md, Friends and blocks). */
export const relate = {
  request: (id) => api.put(path(id), { type: 'friend' }),
  accept: (id) => api.put(path(id), { type: 'friend', accept: true }),
  block: (id) => api.put(path(id), { type: 'blocked' }),
  remove: (id) => api.del(path(id)),
  byName: (username) => api.post('/users/@me/relationships', { username }),
};

const FILTERS = [['online', 'Online'], ['all', 'All'], ['pending', 'Pending'], ['blocked', 'Blocked']];
let filter = 'online';
let ui = null;

function say(text, error = false) {
  if (!ui) return;
  ui.status.textContent = error ? '' : text;
  ui.error.textContent = error ? text : '';
}

async function act(fn, done) {
  try {
    await fn();
    if (done) say(done);
  } catch (e) {
    say(e.message, true);
  }
}

function build(el) {
  const status = h('p', { class: 'friends-status', role: 'status' });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const input = h('input', {
    id: 'add-friend', name: 'username', autocomplete: 'off', spellcheck: 'false', maxlength: 32,
    placeholder: 'Their username', 'aria-describedby': 'add-friend-hint',
  });
  const submit = h('button', { class: 'btn btn-primary', type: 'submit' }, 'Send request');
  const form = h('form', { class: 'add-friend' },
    h('label', { for: 'add-friend' }, 'Add a friend by username'),
    h('p', { class: 'hint', id: 'add-friend-hint' }, 'Friends can message you and add you to group messages.'),
    h('div', { class: 'row' }, input, submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = input.value.trim();
    if (!name) return;
    submit.disabled = true;
    await act(async () => {
      const r = await relate.byName(name);
      input.value = '';
      say(r?.type === 'friend' ? `You and ${displayName(r.id)} are now friends.` : `Friend request sent to ${name}.`);
    });
    submit.disabled = false;
  });
  const filters = h('div', { class: 'friend-filters', role: 'group', 'aria-label': 'Show' });
  const list = h('div', { class: 'friend-list-wrap' });
  replace(el, h('div', { class: 'friends-top' }, filters), form, status, error, list);
  ui = { el, status, error, filters, list, input };
}

function entries(which) {
  const out = [];
  for (const [id, type] of state.relationships) {
    const online = (state.presences.get(id) || 'offline') !== 'offline';
    const keep = which === 'online' ? type === 'friend' && online
      : which === 'all' ? type === 'friend'
        : which === 'pending' ? type === 'incoming' || type === 'outgoing'
          : type === 'blocked';
    if (keep) out.push([id, type]);
  }
  return out.sort(([a], [b]) => displayName(a).localeCompare(displayName(b)));
}

const SUBTITLE = {
  incoming: 'Incoming friend request',
  outgoing: 'Outgoing friend request',
  blocked: 'Blocked',
};

function row(id, type) {
  const name = displayName(id);
  const u = state.users.get(id);
  // Presence is only known for people who share a server with you.
  const known = state.presences.has(id);
  const status = state.presences.get(id) || 'offline';
  const b = (label, aria, fn, cls = '') => h('button', {
    class: `btn btn-small ${cls}`, type: 'button', 'aria-label': aria, 'data-key': `${label}${id}`, onclick: fn,
  }, label);
  const actions = {
    friend: [
      b('Message', `Message ${name}`, () => act(() => openDm(id))),
      b('Remove', `Remove ${name} from friends`, () => act(() => relate.remove(id), `${name} is no longer your friend.`), 'btn-quiet'),
    ],
    incoming: [
      b('Accept', `Accept ${name}'s friend request`, () => act(() => relate.accept(id), `You and ${name} are now friends.`), 'btn-primary'),
      b('Decline', `Decline ${name}'s friend request`, () => act(() => relate.remove(id), 'Request declined.'), 'btn-quiet'),
    ],
    outgoing: [b('Cancel', `Cancel friend request to ${name}`, () => act(() => relate.remove(id), 'Request cancelled.'), 'btn-quiet')],
    blocked: [b('Unblock', `Unblock ${name}`, () => act(() => relate.remove(id), `${name} is unblocked.`))],
  }[type] || [];
  return h('li', { class: 'friend' },
    h('span', { class: 'avatar-wrap' }, avatar(id, name, 'sm'), type === 'friend' && known ? dot(id) : null),
    h('span', { class: 'friend-names' },
      h('span', { class: 'friend-name' }, name, u?.username && u.username !== name ? h('span', { class: 'muted' }, ` @${u.username}`) : null),
      h('span', { class: 'friend-sub muted' }, SUBTITLE[type] || (known ? STATUS_LABEL[status] : 'Friend'))),
    h('span', { class: 'friend-actions' }, actions));
}

const EMPTY = {
  online: 'No friends are online right now.',
  all: 'No friends yet. Add someone by their username above.',
  pending: 'No pending friend requests.',
  blocked: 'You have not blocked anyone.',
};

/** Draw the Friends view into `el` (its form is kept between redraws). */
export function renderFriends(el) {
  if (!ui || ui.el !== el) build(el);
  const counts = Object.fromEntries(FILTERS.map(([k]) => [k, entries(k).length]));
  const incoming = entries('pending').filter(([, t]) => t === 'incoming').length;
  replace(ui.filters, FILTERS.map(([k, label]) => h('button', {
    type: 'button', class: 'friend-filter', 'aria-pressed': String(filter === k), 'data-key': `f${k}`,
    onclick: () => {
      filter = k;
      renderFriends(el);
    },
  }, label, k === 'pending' && incoming
    ? h('span', { class: 'count-badge', 'aria-label': `${incoming} incoming` }, String(incoming))
    : null)));
  const list = entries(filter);
  replace(ui.list,
    h('h2', { class: 'members-head' }, `${FILTERS.find(([k]) => k === filter)[1]} — ${counts[filter]}`),
    list.length
      ? h('ul', { class: 'friend-list', 'aria-label': FILTERS.find(([k]) => k === filter)[1] }, list.map(([id, t]) => row(id, t)))
      : h('p', { class: 'empty' }, EMPTY[filter]));
}
