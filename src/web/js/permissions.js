// Permission bits and their computation, as in docs/api.md (Permissions).
// The client uses them only to decide which controls to offer; the server
// decides, and its refusal message is shown when it says no.

import { state } from './state.js';

/** [name, bit, label, channel-scoped] in bit order. */
export const FLAGS = [
  ['create_invites', 0, 'Create invites', true],
  ['kick_members', 1, 'Kick members', false],
  ['ban_members', 2, 'Ban members', false],
  ['administrator', 3, 'Administrator', false],
  ['manage_channels', 4, 'Manage channels', true],
  ['manage_guild', 5, 'Manage server', false],
  ['add_reactions', 6, 'Add reactions', true],
  ['view_audit_log', 7, 'View audit log', false],
  ['priority_speaker', 8, 'Priority speaker', true],
  ['view_channel', 10, 'View channels', true],
  ['send_messages', 11, 'Send messages', true],
  ['manage_messages', 13, 'Manage messages', true],
  ['embed_links', 14, 'Embed links', true],
  ['attach_files', 15, 'Attach files', true],
  ['read_message_history', 16, 'Read message history', true],
  ['mention_everyone', 17, 'Mention @everyone', true],
  ['connect', 20, 'Connect (voice)', true],
  ['speak', 21, 'Speak (voice)', true],
  ['mute_members', 22, 'Mute members', true],
  ['deafen_members', 23, 'Deafen members', true],
  ['move_members', 24, 'Move members', true],
  ['use_voice_activity', 25, 'Use voice activity', true],
  ['change_nickname', 26, 'Change nickname', false],
  ['manage_nicknames', 27, 'Manage nicknames', false],
  ['manage_roles', 28, 'Manage roles', true],
  ['manage_webhooks', 29, 'Manage webhooks', true],
];

/** One line per permission for the roles and overwrite screens (docs/api.md, Bits). */
export const DESCRIPTIONS = {
  create_invites: 'Create invite links to the server.',
  kick_members: 'Remove members from the server (they can rejoin with an invite).',
  ban_members: 'Ban members from the server.',
  administrator: 'Every permission, and channel overwrites do not apply. Give with care.',
  manage_channels: 'Create, edit and delete channels and categories.',
  manage_guild: 'Rename the server; list and revoke invites.',
  add_reactions: 'Put a new emoji on a message (joining a reaction already there needs only history).',
  view_audit_log: 'Read the audit log.',
  priority_speaker: 'Be heard over others in voice.',
  view_channel: 'See channels and read what arrives in them.',
  send_messages: 'Post messages, reply, and show typing.',
  manage_messages: 'Delete or pin anyone\'s messages, remove reactions, see edit history; no slow mode.',
  embed_links: 'Send messages with embeds (rich cards).',
  attach_files: 'Upload files.',
  read_message_history: 'Read messages sent before they opened the channel.',
  mention_everyone: 'Ping everyone with @everyone or @here, and mention any role.',
  connect: 'Join voice channels.',
  speak: 'Talk in voice channels.',
  mute_members: 'Server-mute others in voice.',
  deafen_members: 'Server-deafen others in voice.',
  move_members: 'Move others between voice channels or disconnect them.',
  use_voice_activity: 'Talk by voice activity instead of push-to-talk.',
  change_nickname: 'Change their own nickname.',
  manage_nicknames: 'Change other members\' nicknames.',
  manage_roles: 'Create, edit and assign roles below their own; in a channel: edit its overwrites.',
  manage_webhooks: 'Create and edit webhooks.',
};

/**
 * Permissions no feature uses yet (no bans, audit log, priority speaker,
 * file uploads, push-to-talk or webhooks): not offered in the settings, and
 * their bits are kept as they are when a role or overwrite is saved.
 */
export const UNUSED = new Set(['ban_members', 'view_audit_log', 'priority_speaker', 'attach_files', 'use_voice_activity', 'manage_webhooks']);

/** The bits of UNUSED permissions. */
export const UNUSED_BITS = FLAGS.reduce((a, [n, b]) => (UNUSED.has(n) ? a | (1n << BigInt(b)) : a), 0n);

export const P = Object.fromEntries(FLAGS.map(([n, b]) => [n, 1n << BigInt(b)]));
const ALL = FLAGS.reduce((a, [, b]) => a | (1n << BigInt(b)), 0n);
// Only these bits can be changed by a channel overwrite.
const SCOPED = FLAGS.reduce((a, [, b, , scoped]) => (scoped ? a | (1n << BigInt(b)) : a), 0n);

export const has = (perms, name) => (perms & P[name]) === P[name];

/** Guild-level permissions of a member (owner and administrators: all). */
export function basePermissions(guildId, userId = state.me?.id) {
  const g = state.guilds.get(guildId);
  if (!g) return 0n;
  if (g.guild.owner_id === userId) return ALL;
  const member = userId === state.me?.id ? g.member : g.members.get(userId);
  let p = BigInt(g.roles.get(guildId)?.permissions || '0');
  for (const r of member?.roles || []) p |= BigInt(g.roles.get(r)?.permissions || '0');
  return has(p, 'administrator') ? ALL : p;
}

/** Permissions in a channel after overwrites and implicit rules. */
export function channelPermissions(channel, userId = state.me?.id) {
  if (!channel) return 0n;
  if (!channel.guild_id) return P.view_channel | P.send_messages | P.read_message_history | P.add_reactions | P.embed_links;
  const g = state.guilds.get(channel.guild_id);
  let p = basePermissions(channel.guild_id, userId);
  if (p === ALL) return ALL;
  const member = userId === state.me?.id ? g.member : g.members.get(userId);
  const ow = (id, kind) => channel.overwrites.find((o) => o.id === id && o.kind === kind);
  const apply = (o) => {
    if (o) p = (p & ~(BigInt(o.deny) & SCOPED)) | (BigInt(o.allow) & SCOPED);
  };
  apply(ow(channel.guild_id, 'role'));
  let allow = 0n;
  let deny = 0n;
  for (const r of member?.roles || []) {
    const o = ow(r, 'role');
    if (o) {
      allow |= BigInt(o.allow);
      deny |= BigInt(o.deny);
    }
  }
  p = (p & ~(deny & SCOPED)) | (allow & SCOPED);
  apply(ow(userId, 'member'));
  if (!has(p, 'view_channel')) return 0n;
  return p;
}
