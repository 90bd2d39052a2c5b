// Server settings (name, roles: name, colour, permissions, order), channel
// settings (name, topic, slow mode, permission overwrites), and the user's
// privacy settings (who may DM them or add them to group messages).

import { h } from './dom.js';
import * as api from './api.js';
import { state, displayName, byPosition } from './state.js';
import { navigate } from './app.js';
import { FLAGS, DESCRIPTIONS, UNUSED, UNUSED_BITS } from './permissions.js';
import { modal, errorBox, field, form } from './dialogs.js';

let uid = 0;
const hex = (n) => `#${Number(n).toString(16).padStart(6, '0')}`;

/** Accessible tabs: arrow keys move between them. */
function tabs(items) {
  const list = h('div', { role: 'tablist', class: 'tabs' });
  const panels = [];
  const buttons = items.map(([label, render], i) => {
    const id = `tab${++uid}`;
    const panel = h('div', { role: 'tabpanel', id: `${id}-p`, 'aria-labelledby': id, hidden: i !== 0, class: 'tab-panel' });
    panels.push([panel, render]);
    return h('button', {
      type: 'button', role: 'tab', id, 'aria-controls': `${id}-p`, 'aria-selected': String(i === 0), tabindex: i === 0 ? '0' : '-1',
      onclick: () => select(i),
      onkeydown: (e) => {
        const d = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
        if (d) select((i + d + items.length) % items.length, true);
      },
    }, label);
  });
  function select(i, focus = false) {
    buttons.forEach((b, j) => {
      b.setAttribute('aria-selected', String(i === j));
      b.tabIndex = i === j ? 0 : -1;
      panels[j][0].hidden = i !== j;
    });
    panels[i][0].replaceChildren(panels[i][1]());
    if (focus) buttons[i].focus();
  }
  list.append(...buttons);
  panels[0][0].append(panels[0][1]());
  return [list, ...panels.map(([p]) => p)];
}

// ------------------------------------------------------------ server settings

export function showGuildSettings(guildId) {
  const g = state.guilds.get(guildId);
  if (!g) return;
  modal(`${g.guild.name} settings`, tabs([
    ['Overview', () => overview(guildId)],
    ['Roles', () => rolesPanel(guildId)],
  ]), { wide: true });
}

function overview(guildId) {
  const g = state.guilds.get(guildId);
  const rename = form([field('Server name', { name: 'name', required: true, maxlength: 100, value: g.guild.name })], 'Save', async (d) => {
    await api.patch(`/guilds/${guildId}`, { name: d.name });
  });
  const parts = [rename];
  if (g.guild.owner_id === state.me.id) {
    const error = errorBox();
    parts.push(h('hr'), h('h3', {}, 'Delete server'),
      h('p', { class: 'muted' }, 'This deletes every channel and message for everyone. It cannot be undone.'),
      error,
      h('button', {
        class: 'btn btn-danger', type: 'button', onclick: async () => {
          if (!window.confirm(`Delete ${g.guild.name} for everyone?`)) return;
          try {
            await api.del(`/guilds/${guildId}`);
            document.querySelectorAll('dialog').forEach((d) => d.close());
            navigate('/channels/@me');
          } catch (err) {
            error.textContent = err.message;
          }
        },
      }, 'Delete server'));
  }
  return h('div', {}, parts);
}

function rolesPanel(guildId, selectedId = null) {
  const wrap = h('div', { class: 'roles' });
  const error = errorBox();
  const redraw = (sel) => wrap.replaceWith(rolesPanel(guildId, sel));
  const g = state.guilds.get(guildId);
  const roles = [...g.roles.values()].sort(byPosition).reverse();
  const sel = g.roles.get(selectedId) || roles[0];
  const movable = roles.filter((r) => r.id !== guildId);
  const move = async (r, dir) => {
    const i = movable.indexOf(r);
    const other = movable[i - dir];
    if (!other) return;
    error.textContent = '';
    try {
      await api.patch(`/guilds/${guildId}/roles`, [{ id: r.id, position: other.position }, { id: other.id, position: r.position }]);
      const fresh = await api.get(`/guilds/${guildId}/roles`);
      fresh.forEach((x) => g.roles.set(x.id, x));
      redraw(r.id);
    } catch (err) {
      error.textContent = err.message;
    }
  };
  const list = h('ul', { class: 'role-list', 'aria-label': 'Roles, highest first' }, roles.map((r) => {
    const sw = h('span', { class: 'swatch', 'aria-hidden': 'true' });
    if (r.color) sw.style.setProperty('--swatch', hex(r.color));
    const i = movable.indexOf(r);
    return h('li', { class: r === sel ? 'selected' : '' },
      h('button', { type: 'button', class: 'role-pick', 'aria-pressed': String(r === sel), onclick: () => redraw(r.id) }, sw, r.name),
      r.id !== guildId ? h('span', { class: 'role-move' },
        h('button', { type: 'button', class: 'icon-btn', 'aria-label': `Move ${r.name} up`, disabled: i === 0, onclick: () => move(r, 1) }, '↑'),
        h('button', { type: 'button', class: 'icon-btn', 'aria-label': `Move ${r.name} down`, disabled: i === movable.length - 1, onclick: () => move(r, -1) }, '↓'))
        : null);
  }));
  const create = h('button', {
    class: 'btn btn-small', type: 'button', onclick: async () => {
      error.textContent = '';
      try {
        const r = await api.post(`/guilds/${guildId}/roles`, { name: 'new role' });
        g.roles.set(r.id, r);
        redraw(r.id);
      } catch (err) {
        error.textContent = err.message;
      }
    },
  }, 'Create role');
  wrap.append(h('div', { class: 'roles-side' }, list, create), h('div', { class: 'roles-edit' }, roleEditor(guildId, sel, redraw), error));
  return wrap;
}

function roleEditor(guildId, role, redraw) {
  const everyone = role.id === guildId;
  const perms = BigInt(role.permissions);
  const boxes = FLAGS.filter(([name]) => !UNUSED.has(name)).map(([name, bit, label]) => {
    const id = `rp${++uid}`;
    return h('li', { class: 'perm' }, h('input', {
      type: 'checkbox', id, name: 'perm', value: String(bit), checked: (perms >> BigInt(bit)) & 1n, 'aria-describedby': `${id}-d`,
    }), h('div', {}, h('label', { for: id }, label), h('p', { class: 'hint perm-desc', id: `${id}-d` }, DESCRIPTIONS[name])));
  });
  const fields = [
    everyone ? h('p', { class: 'muted' }, 'Everyone in the server has this role. It cannot be renamed.')
      : field('Role name', { name: 'name', required: true, maxlength: 100, value: role.name }),
    everyone ? null : field('Colour', { name: 'color', type: 'color', value: role.color ? hex(role.color) : '#99aab5' }),
    everyone ? null : h('div', { class: 'check' }, h('input', { type: 'checkbox', id: `nocolor${role.id}`, name: 'nocolor', checked: !role.color }),
      h('label', { for: `nocolor${role.id}` }, 'No colour (names keep the default colour)')),
    everyone ? null : h('div', { class: 'check' }, h('input', { type: 'checkbox', id: `hoist${role.id}`, name: 'hoist', checked: role.hoist }),
      h('label', { for: `hoist${role.id}` }, 'Show members with this role separately')),
    everyone ? null : h('div', { class: 'check' }, h('input', { type: 'checkbox', id: `mentionable${role.id}`, name: 'mentionable', checked: role.mentionable }),
      h('label', { for: `mentionable${role.id}` }, 'Allow anyone to @mention this role')),
    h('fieldset', {}, h('legend', {}, 'Permissions'), h('ul', { class: 'check-list cols perm-list' }, boxes)),
  ];
  const f = form(fields, 'Save role', async (d, el) => {
    // Bits not offered here (UNUSED) keep their value.
    let bits = perms & UNUSED_BITS;
    el.querySelectorAll('input[name=perm]:checked').forEach((b) => {
      bits |= 1n << BigInt(b.value);
    });
    const body = { permissions: bits.toString() };
    if (!everyone) {
      body.name = d.name;
      body.color = d.nocolor ? 0 : parseInt(String(d.color).slice(1), 16) || 0;
      body.hoist = Boolean(d.hoist);
      body.mentionable = Boolean(d.mentionable);
    }
    const r = await api.patch(`/guilds/${guildId}/roles/${role.id}`, body);
    state.guilds.get(guildId)?.roles.set(r.id, r);
    redraw(r.id);
  });
  if (!everyone) {
    const error = errorBox();
    f.append(error, h('button', {
      class: 'btn btn-danger btn-small', type: 'button', onclick: async () => {
        try {
          await api.del(`/guilds/${guildId}/roles/${role.id}`);
          state.guilds.get(guildId)?.roles.delete(role.id);
          redraw(null);
        } catch (err) {
          error.textContent = err.message;
        }
      },
    }, 'Delete role'));
  }
  return h('div', {}, h('h3', {}, everyone ? '@everyone' : `Edit ${role.name}`), f);
}

// ----------------------------------------------------------- channel settings

export function showChannelSettings(channelId) {
  const c = state.channels.get(channelId);
  if (!c) return;
  const items = [['Overview', () => channelOverview(channelId)]];
  items.push(['Permissions', () => overwritesPanel(channelId)]);
  modal(`${c.kind === 'category' ? 'Category' : `#${c.name}`} settings`, tabs(items), { wide: true });
}

function channelOverview(channelId) {
  const c = state.channels.get(channelId);
  const category = c.kind === 'category';
  const fields = [field('Name', { name: 'name', required: true, maxlength: 100, value: c.name })];
  if (!category) {
    fields.push(field('Topic', { tag: 'textarea', name: 'topic', maxlength: 1024, rows: 2, value: c.topic || '' }));
    fields.push(field('Slow mode (seconds between messages, 0 = off)', { name: 'rate_limit_per_user', type: 'number', min: 0, max: 21600, value: c.rate_limit_per_user }));
  }
  const f = form(fields, 'Save', async (d) => {
    const body = { name: d.name };
    if (!category) {
      body.topic = d.topic || null;
      body.rate_limit_per_user = Number(d.rate_limit_per_user) || 0;
    }
    const fresh = await api.patch(`/channels/${channelId}`, body);
    state.channels.set(fresh.id, fresh);
  });
  const error = errorBox();
  return h('div', {}, f, h('hr'), error, h('button', {
    class: 'btn btn-danger', type: 'button', onclick: async () => {
      if (!window.confirm(`Delete ${c.name}? Its messages are deleted too.`)) return;
      try {
        await api.del(`/channels/${channelId}`);
        document.querySelectorAll('dialog').forEach((x) => x.close());
      } catch (err) {
        error.textContent = err.message;
      }
    },
  }, category ? 'Delete category' : 'Delete channel'));
}

function targetName(c, o) {
  const g = state.guilds.get(c.guild_id);
  if (o.kind === 'role') return o.id === c.guild_id ? '@everyone' : g?.roles.get(o.id)?.name || 'deleted role';
  return displayName(o.id, c.guild_id);
}

function overwritesPanel(channelId, selected = null) {
  const c = state.channels.get(channelId);
  const g = state.guilds.get(c.guild_id);
  const wrap = h('div', { class: 'roles' });
  const redraw = (sel) => wrap.replaceWith(overwritesPanel(channelId, sel));
  const error = errorBox();
  const ows = c.overwrites;
  const sel = ows.find((o) => o.id === selected) || (selected && selected.startsWith('new:') ? null : ows[0]);
  const list = h('ul', { class: 'role-list', 'aria-label': 'Overwrites' }, ows.map((o) => h('li', { class: o === sel ? 'selected' : '' },
    h('button', { type: 'button', class: 'role-pick', 'aria-pressed': String(o === sel), onclick: () => redraw(o.id) },
      `${o.kind === 'member' ? '👤 ' : ''}${targetName(c, o)}`))));
  const candidates = [
    ...[...g.roles.values()].sort(byPosition).reverse().filter((r) => !ows.some((o) => o.id === r.id)).map((r) => ['role', r.id, r.id === c.guild_id ? '@everyone' : r.name]),
    ...[...g.members.values()].filter((m) => !ows.some((o) => o.id === m.user.id)).map((m) => ['member', m.user.id, `👤 ${displayName(m.user.id, c.guild_id)}`]),
  ];
  const addId = `ow-add${++uid}`;
  const add = h('select', { id: addId }, h('option', { value: '' }, 'Choose a role or member…'),
    candidates.map(([kind, id, label]) => h('option', { value: `${kind}:${id}` }, label)));
  const addBtn = h('button', {
    class: 'btn btn-small', type: 'button', onclick: () => {
      if (!add.value) return;
      const [kind, id] = add.value.split(':');
      editor.replaceChildren(overwriteEditor(c, { id, kind, allow: '0', deny: '0' }, true, redraw, error));
    },
  }, 'Add');
  const editor = h('div', {}, sel ? overwriteEditor(c, sel, false, redraw, error) : h('p', { class: 'muted' }, 'No overwrites yet: everyone has their server-wide permissions here. Add a role or member to change that.'));
  wrap.append(h('div', { class: 'roles-side' }, list, h('label', { for: addId }, 'Add an overwrite'), add, addBtn), h('div', { class: 'roles-edit' }, editor, error));
  return wrap;
}

function overwriteEditor(c, o, isNew, redraw, error) {
  const allow = BigInt(o.allow);
  const deny = BigInt(o.deny);
  const scoped = FLAGS.filter(([n, , , s]) => s && !UNUSED.has(n));
  const rows = scoped.map(([pname, bit, label]) => {
    const b = 1n << BigInt(bit);
    const cur = allow & b ? 'allow' : deny & b ? 'deny' : 'inherit';
    const name = `ow${bit}`;
    const opt = (value, text) => {
      const id = `${name}-${value}-${++uid}`;
      return h('span', { class: `tri tri-${value}` }, h('input', { type: 'radio', id, name, value, checked: cur === value }),
        h('label', { for: id }, text));
    };
    const descId = `${name}-d-${++uid}`;
    return h('tr', {}, h('th', { scope: 'row' }, h('span', { class: 'perm-name' }, label), h('span', { class: 'hint perm-desc', id: descId }, DESCRIPTIONS[pname])),
      h('td', {}, h('div', { role: 'radiogroup', 'aria-label': label, 'aria-describedby': descId }, opt('deny', 'Deny'), opt('inherit', 'Inherit'), opt('allow', 'Allow'))));
  });
  const f = form([
    h('table', { class: 'ow-table' }, h('caption', { class: 'visually-hidden' }, `Permissions for ${targetName(c, o)}`), h('tbody', {}, rows)),
  ], isNew ? 'Add overwrite' : 'Save overwrite', async (_d, el) => {
    // Bits not offered here (UNUSED) keep their value.
    let a = allow & UNUSED_BITS;
    let dn = deny & UNUSED_BITS;
    scoped.forEach(([, bit]) => {
      const v = el.querySelector(`input[name=ow${bit}]:checked`)?.value;
      if (v === 'allow') a |= 1n << BigInt(bit);
      if (v === 'deny') dn |= 1n << BigInt(bit);
    });
    const fresh = await api.put(`/channels/${c.id}/permissions/${o.id}`, { kind: o.kind, allow: a.toString(), deny: dn.toString() });
    // The gateway may already have hidden the channel from us (CHANNEL_DELETE).
    if (state.channels.has(fresh.id)) state.channels.set(fresh.id, fresh);
    redraw(o.id);
  });
  const parts = [h('h3', {}, targetName(c, o)), f];
  if (!isNew) {
    parts.push(h('button', {
      class: 'btn btn-danger btn-small', type: 'button', onclick: async () => {
        error.textContent = '';
        try {
          const fresh = await api.del(`/channels/${c.id}/permissions/${o.id}`);
          if (state.channels.has(fresh.id)) state.channels.set(fresh.id, fresh);
          redraw(null);
        } catch (err) {
          error.textContent = err.message;
        }
      },
    }, 'Remove overwrite'));
  }
  return h('div', {}, parts);
}

// ------------------------------------------------------------ privacy settings

/** Who may reach you: DMs from server members (per server), group messages. */
export function showUserSettings() {
  modal('Privacy settings', privacyPanel());
}

function privacyPanel() {
  const wrap = h('div', { class: 'privacy' });
  const status = h('p', { class: 'friends-status', role: 'status' });
  const error = errorBox();
  const draw = () => {
    const s = state.settings || { allow_guild_dms: true, guild_dm_overrides: [], group_dms_friends_only: true };
    const allows = (gid) => s.guild_dm_overrides.find((o) => o.guild_id === gid)?.allow_dms ?? s.allow_guild_dms;
    const save = async (patch, input) => {
      status.textContent = '';
      error.textContent = '';
      input.disabled = true;
      try {
        state.settings = await api.patch('/users/@me/settings', patch);
        status.textContent = 'Saved.';
        const id = input.id;
        draw();
        wrap.querySelector(`#${id}`)?.focus();
      } catch (err) {
        input.checked = !input.checked;
        input.disabled = false;
        error.textContent = err.message;
      }
    };
    const check = (id, label, checked, onchange, hint) => h('li', {},
      h('input', { type: 'checkbox', id, checked, onchange: (e) => onchange(e.target.checked, e.target) }),
      h('label', { for: id }, label, hint ? h('span', { class: 'hint' }, hint) : null));
    const guilds = [...state.guilds.values()].sort((a, b) => a.guild.name.localeCompare(b.guild.name));
    const perGuild = guilds.map((g) => check(`pg-${g.guild.id}`, g.guild.name, allows(g.guild.id), (on, input) => {
      // An exception is kept only where the server differs from the default.
      const rest = s.guild_dm_overrides.filter((o) => o.guild_id !== g.guild.id);
      const next = on === s.allow_guild_dms ? rest : [...rest, { guild_id: g.guild.id, allow_dms: on }];
      save({ guild_dm_overrides: next }, input);
    }));
    wrap.replaceChildren(
      h('fieldset', {}, h('legend', {}, 'Direct messages'),
        h('ul', { class: 'check-list' },
          check('p-guild-dms', 'Allow direct messages from server members', s.allow_guild_dms,
            (on, input) => save({ allow_guild_dms: on, guild_dm_overrides: [] }, input),
            'Friends can always message you. Turn this off to hear only from friends.'))),
      guilds.length ? h('fieldset', {}, h('legend', {}, 'Direct messages, per server'),
        h('ul', { class: 'check-list scroll' }, perGuild)) : null,
      h('fieldset', {}, h('legend', {}, 'Group messages'),
        h('ul', { class: 'check-list' },
          check('p-group-friends', 'Only friends can add me to group messages', s.group_dms_friends_only,
            (on, input) => save({ group_dms_friends_only: on }, input)))),
      status, error);
  };
  draw();
  return wrap;
}
