// Voice channels (docs/voice.md): who is in which voice channel, joining and
// leaving, mute and deafen, speaking indicators, and the one
// RTCPeerConnection of this tab's voice connection.
//
// The server makes every offer (VOICE_OFFER); this client only answers
// (op 45), on one RTCPeerConnection per join that lives across gateway
// resumes and renegotiations. The microphone goes on the offer's `send_mid`
// line; every other line is one remote participant, played by its own
// <audio> element. A refused microphone still joins, listen-only and muted.

import { h, avatar } from './dom.js';
import { state, changed, displayName } from './state.js';
import { gateway, navigate } from './app.js';

const OP_VOICE_STATE_UPDATE = 44;
const OP_VOICE_ANSWER = 45;

/** guild id → Map(user id → VoiceState): READY, GUILD_CREATE, VOICE_STATE_UPDATE. */
const states = new Map();
/** user ids speaking now (VOICE_SPEAKING of the channel we are in). */
const speaking = new Set();

/**
 * This tab's voice connection, or null. `channelId` is the channel asked for
 * (op 44 sent); the server's VOICE_STATE_UPDATE confirms it.
 */
let session = null;
/** Why the microphone is missing (shown in the panel), or null. */
let micProblem = null;
/** A problem worth showing after the connection ended (server refusal, drop). */
let lastError = null;
/** Our gateway session's public id (READY `session_id` before the '.'). */
let mySessionId = null;

// Test hook (tests/web/voice.mjs): the live RTCPeerConnection, so a test can
// read getStats(). Reading it changes nothing.
window.__hearthVoice = {
  get pc() {
    return session?.pc || null;
  },
  get channelId() {
    return session?.channelId || null;
  },
};

// ------------------------------------------------------------------ icons

// Own icons (dom.js has the shared ones): drawn with the text colour.
const ICONS = {
  mic: ['M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3z', 'M5 11a7 7 0 0 0 14 0', 'M12 18v3'],
  micOff: ['M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3z', 'M5 11a7 7 0 0 0 14 0', 'M12 18v3', 'M3 3l18 18'],
  head: ['M4 15v-3a8 8 0 0 1 16 0v3', 'M4 15h3v5H5a1 1 0 0 1-1-1z', 'M20 15h-3v5h2a1 1 0 0 0 1-1z'],
  headOff: ['M4 15v-3a8 8 0 0 1 16 0v3', 'M4 15h3v5H5a1 1 0 0 1-1-1z', 'M20 15h-3v5h2a1 1 0 0 0 1-1z', 'M3 3l18 18'],
  hangup: ['M3 14.5c5-4.7 13-4.7 18 0l-2.5 2.6-3.2-1.6v-2.6a10 10 0 0 0-6.6 0v2.6l-3.2 1.6z'],
  waves: ['M4 12h2', 'M8 8v8', 'M12 5v14', 'M16 8v8', 'M20 12h-2'],
};
const SVG = 'http://www.w3.org/2000/svg';

function vicon(name, cls = '') {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', `icon vicon vicon-${name} ${cls}`.trim());
  for (const d of ICONS[name] || []) {
    const p = document.createElementNS(SVG, 'path');
    p.setAttribute('d', d);
    svg.append(p);
  }
  return svg;
}

// ------------------------------------------------------------------ announcements

let live = null;
/** Say something to screen readers (join, leave, problems). */
function announce(text) {
  if (!live) {
    live = h('div', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite', id: 'voice-announcer' });
    document.body.append(live);
  }
  // Clearing first makes a repeated sentence be read again.
  live.textContent = '';
  setTimeout(() => { live.textContent = text; }, 50);
}

// ------------------------------------------------------------------ state from the gateway

function setState(vs) {
  if (!states.has(vs.guild_id)) states.set(vs.guild_id, new Map());
  const g = states.get(vs.guild_id);
  if (vs.channel_id) g.set(vs.user_id, vs);
  else g.delete(vs.user_id);
}

/** The voice states of one voice channel, in the order people joined. */
export function channelVoiceStates(channelId) {
  const c = state.channels.get(channelId);
  const g = c && states.get(c.guild_id);
  return g ? [...g.values()].filter((vs) => vs.channel_id === channelId) : [];
}

function myState() {
  const me = state.me?.id;
  if (!me) return null;
  for (const g of states.values()) if (g.has(me)) return g.get(me);
  return null;
}

/** READY: a whole new picture of who is in voice. */
export function voiceReady(d) {
  mySessionId = String(d.session_id || '').split('.')[0] || null;
  states.clear();
  speaking.clear();
  (d.guilds || []).forEach((gs) => (gs.voice_states || []).forEach(setState));
  if (session) {
    // A new gateway session (the old one expired): the server ended the
    // old one's voice connection, unless this READY still shows it here.
    const mine = myState();
    if (!mine || mine.session_id !== mySessionId || mine.channel_id !== session.channelId) {
      endSession('Voice disconnected: the connection to the server was lost. Join again to reconnect.');
    }
  }
  changed('voice');
}

/** Every other dispatch; voice ones are handled here, the rest only peeked at. */
export function voiceDispatch(t, d) {
  switch (t) {
    case 'GUILD_CREATE':
      states.delete(d.guild.id);
      (d.voice_states || []).forEach(setState);
      changed('voice');
      break;
    case 'GUILD_DELETE':
      states.delete(d.id);
      if (session?.guildId === d.id) endSession('Voice disconnected: you are no longer in that server.');
      changed('voice');
      break;
    case 'CHANNEL_DELETE':
      if (session?.channelId === d.id) endSession('Voice disconnected: the voice channel was deleted.');
      break;
    case 'VOICE_STATE_UPDATE':
      onVoiceState(d);
      break;
    case 'VOICE_OFFER':
      if (session && session.guildId === d.guild_id && session.channelId === d.channel_id) {
        // Offers are answered one at a time, in order.
        session.chain = session.chain.then(() => answer(session, d)).catch((e) => connectionProblem(e));
      }
      break;
    case 'VOICE_SPEAKING':
      if (d.speaking) speaking.add(d.user_id);
      else speaking.delete(d.user_id);
      showSpeaking(d.user_id);
      break;
    default:
      break;
  }
}

function onVoiceState(d) {
  const before = myState();
  setState(d);
  if (d.user_id === state.me?.id && session && d.guild_id === session.guildId) {
    const here = d.session_id === mySessionId;
    if (!d.channel_id) {
      // The server took us out (leave elsewhere, timeout, kicked, permission).
      endSession(session.leaving ? null : 'Voice disconnected by the server.');
    } else if (!here) {
      endSession('Voice moved to another device or tab.');
    } else if (d.channel_id !== session.channelId) {
      // Moved by the server: the new room sends a fresh offer.
      restartSession(d.channel_id);
    } else {
      session.confirmed = true;
    }
  }
  if (!d.channel_id || before?.channel_id !== d.channel_id) speaking.delete(d.user_id);
  changed('voice');
}

/** An op 43 ERROR; only the voice ops' ones are ours. */
export function voiceError(d) {
  if (d.op !== OP_VOICE_STATE_UPDATE && d.op !== OP_VOICE_ANSWER) return;
  if (d.op === OP_VOICE_ANSWER && d.code === 'conflict') return; // a newer offer is on its way
  if (session && !session.confirmed && d.op === OP_VOICE_STATE_UPDATE) {
    endSession(`Could not join voice: ${d.message || d.code}.`);
  } else {
    lastError = `Voice: ${d.message || d.code}.`;
    announce(lastError);
    changed('voice');
  }
}

// ------------------------------------------------------------------ the microphone

/** Ask for the microphone; on failure set `micProblem` and return null. */
async function getMic() {
  if (!navigator.mediaDevices?.getUserMedia) {
    micProblem = {
      title: 'The microphone needs a secure connection.',
      help: 'Browsers only allow the microphone on https:// pages (or on this computer). Ask the server owner to set up HTTPS. You can listen meanwhile.',
    };
    return null;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      video: false,
    });
    micProblem = null;
    return stream.getAudioTracks()[0] || null;
  } catch (e) {
    const name = e?.name || '';
    if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError') {
      micProblem = {
        title: 'Microphone blocked: you joined listen-only.',
        help: 'Your browser did not let Hearth use the microphone. To talk, click the icon left of the address (a lock or a crossed-out microphone), set Microphone to Allow for this site, then press Unmute.',
      };
    } else if (name === 'NotFoundError' || name === 'OverconstrainedError' || name === 'DevicesNotFoundError') {
      micProblem = {
        title: 'No microphone found: you joined listen-only.',
        help: 'Connect a microphone (or check that it is switched on and chosen in your system settings), then press Unmute.',
      };
    } else if (name === 'NotReadableError' || name === 'AbortError') {
      micProblem = {
        title: 'The microphone is busy or failed: you joined listen-only.',
        help: 'Another program may be using it. Close that program, then press Unmute.',
      };
    } else {
      micProblem = { title: 'The microphone could not be opened: you joined listen-only.', help: `${e?.message || name}. Press Unmute to try again.` };
    }
    return null;
  }
}

// ------------------------------------------------------------------ the connection

/** Join (or switch to) a voice channel. */
export async function joinVoice(guildId, channelId) {
  if (session?.channelId === channelId) return;
  if (!gateway?.ready) {
    lastError = 'Not connected to the server: voice cannot start now.';
    announce(lastError);
    changed('voice');
    return;
  }
  lastError = null;
  const prev = session;
  const wanted = { guildId, channelId };
  pendingJoin = wanted;
  changed('voice');
  // Keep the microphone of the previous channel when switching.
  let track = prev?.track && prev.track.readyState === 'live' ? prev.track : null;
  if (prev) {
    prev.track = null; // handed over, not stopped
    closePc(prev);
    session = null;
  }
  if (!track) track = await getMic();
  if (pendingJoin !== wanted) {
    // Another click (or leave) came while the permission prompt was open.
    track?.stop();
    return;
  }
  pendingJoin = null;
  const selfDeaf = Boolean(prev?.selfDeaf);
  const selfMute = !track || Boolean(prev?.selfMute);
  session = newSession(guildId, channelId, track, selfMute, selfDeaf);
  if (!gateway?.send(OP_VOICE_STATE_UPDATE, { guild_id: guildId, channel_id: channelId, self_mute: selfMute, self_deaf: selfDeaf })) {
    endSession('Not connected to the server: voice cannot start now.');
    return;
  }
  announce(`Joining voice channel ${channelName(channelId)}${track ? '' : ', listen-only'}.`);
  changed('voice');
}
let pendingJoin = null;

function newSession(guildId, channelId, track, selfMute, selfDeaf) {
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
  const s = {
    guildId, channelId, pc, track, selfMute, selfDeaf, muteBeforeDeaf: selfMute,
    revision: 0, streams: new Map(), audio: new Map(), chain: Promise.resolve(),
    confirmed: false, leaving: false, status: 'connecting',
  };
  if (track) track.enabled = !selfMute;
  pc.ontrack = (e) => {
    const mid = e.transceiver?.mid;
    if (mid == null || session !== s) return;
    let el = s.audio.get(mid);
    if (!el) {
      el = h('audio', { autoplay: true, 'data-mid': mid });
      audioHost().append(el);
      s.audio.set(mid, el);
    }
    el.srcObject = new MediaStream([e.track]);
    el.muted = s.selfDeaf;
    el.play?.().catch(() => {});
  };
  pc.onconnectionstatechange = () => {
    if (session !== s) return;
    const st = pc.connectionState;
    const was = s.status;
    s.status = st === 'connected' ? 'connected' : st === 'failed' ? 'failed' : st === 'disconnected' ? 'unstable' : 'connecting';
    if (was !== s.status) {
      if (s.status === 'connected') announce(`Voice connected to ${channelName(s.channelId)}.`);
      if (s.status === 'failed') announce('Voice connection failed. Your network may block UDP.');
      changed('voice');
    }
  };
  return s;
}

/** Answer one VOICE_OFFER on the session's RTCPeerConnection. */
async function answer(s, d) {
  if (session !== s || d.revision <= s.revision) return;
  const { pc } = s;
  await pc.setRemoteDescription({ type: 'offer', sdp: d.sdp });
  const tx = pc.getTransceivers().find((t) => t.mid === d.send_mid);
  if (tx) {
    tx.direction = 'sendonly';
    if (tx.sender.track !== s.track) await tx.sender.replaceTrack(s.track || null);
    s.sendTx = tx;
  }
  const ans = await pc.createAnswer();
  await pc.setLocalDescription(ans);
  if (session !== s) return;
  s.revision = d.revision;
  s.streams = new Map((d.streams || []).map((x) => [x.mid, x.user_id]));
  // Lines that went away (port 0 in the offer): drop their players.
  for (const [mid, el] of s.audio) {
    if (!s.streams.has(mid)) {
      el.srcObject = null;
      el.remove();
      s.audio.delete(mid);
    }
  }
  gateway?.send(OP_VOICE_ANSWER, { guild_id: d.guild_id, channel_id: d.channel_id, revision: d.revision, sdp: pc.localDescription.sdp });
}

function connectionProblem(e) {
  console.warn('voice negotiation failed', e);
  lastError = `Voice negotiation failed: ${e?.message || e}`;
  changed('voice');
}

/** Leave voice (the Leave button). */
export function leaveVoice() {
  pendingJoin = null;
  if (!session) {
    changed('voice');
    return;
  }
  const { guildId } = session;
  session.leaving = true;
  gateway?.send(OP_VOICE_STATE_UPDATE, { guild_id: guildId, channel_id: null });
  // Our own entry goes at once; the server's VOICE_STATE_UPDATE confirms it.
  states.get(guildId)?.delete(state.me?.id);
  endSession(null);
  announce('You left voice.');
}

/** Log out: close everything without a word. */
export function closeVoice() {
  if (session) gateway?.send(OP_VOICE_STATE_UPDATE, { guild_id: session.guildId, channel_id: null });
  endSession(null);
  states.clear();
  speaking.clear();
  lastError = null;
  micProblem = null;
}

function closePc(s) {
  s.pc.ontrack = null;
  s.pc.onconnectionstatechange = null;
  s.pc.close();
  for (const el of s.audio.values()) {
    el.srcObject = null;
    el.remove();
  }
  s.audio.clear();
  s.track?.stop();
}

/** The connection is over (left, dropped, refused); `why` is shown if given. */
function endSession(why) {
  if (session) closePc(session);
  session = null;
  speaking.clear();
  if (why) {
    lastError = why;
    announce(why);
  }
  changed('voice');
}

/** The server moved us to another channel: start over there. */
function restartSession(channelId) {
  const old = session;
  const track = old.track;
  old.track = null;
  closePc(old);
  session = newSession(old.guildId, channelId, track, old.selfMute, old.selfDeaf);
  session.confirmed = true;
  announce(`Moved to voice channel ${channelName(channelId)}.`);
}

function audioHost() {
  let el = document.getElementById('voice-audio');
  if (!el) {
    el = h('div', { id: 'voice-audio', hidden: true });
    document.body.append(el);
  }
  return el;
}

function sendFlags() {
  if (!session) return;
  gateway?.send(OP_VOICE_STATE_UPDATE, {
    guild_id: session.guildId, channel_id: session.channelId, self_mute: session.selfMute, self_deaf: session.selfDeaf,
  });
}

/** Mute or unmute the microphone (asks for it again if it was refused). */
export async function toggleMute() {
  const s = session;
  if (!s) return;
  if (s.selfMute && !s.track) {
    const track = await getMic();
    if (session !== s) {
      track?.stop();
      return;
    }
    if (!track) {
      announce(micProblem?.title || 'No microphone.');
      changed('voice');
      return;
    }
    s.track = track;
    if (s.sendTx) await s.sendTx.sender.replaceTrack(track);
  }
  s.selfMute = !s.selfMute;
  if (!s.selfMute && s.selfDeaf) s.selfDeaf = false; // talking means hearing, as in other apps
  if (s.track) s.track.enabled = !s.selfMute;
  s.muteBeforeDeaf = s.selfMute;
  for (const el of s.audio.values()) el.muted = s.selfDeaf;
  sendFlags();
  announce(s.selfMute ? 'Microphone muted.' : 'Microphone on.');
  changed('voice');
}

/** Deafen (hear nothing, and mute) or undeafen (back to the earlier mute). */
export function toggleDeaf() {
  const s = session;
  if (!s) return;
  s.selfDeaf = !s.selfDeaf;
  if (s.selfDeaf) {
    s.muteBeforeDeaf = s.selfMute;
    s.selfMute = true;
  } else {
    s.selfMute = s.muteBeforeDeaf || !s.track;
  }
  if (s.track) s.track.enabled = !s.selfMute;
  for (const el of s.audio.values()) el.muted = s.selfDeaf;
  sendFlags();
  announce(s.selfDeaf ? 'Deafened: you hear nothing and are muted.' : 'Undeafened.');
  changed('voice');
}

// ------------------------------------------------------------------ views

function channelName(id) {
  return state.channels.get(id)?.name || 'voice';
}

function userFlags(vs) {
  const parts = [];
  if (vs.mute) parts.push(['micOff', 'server muted', 'vflag-server']);
  else if (vs.suppress) parts.push(['micOff', 'cannot speak here', 'vflag-server']);
  else if (vs.self_mute) parts.push(['micOff', 'muted', '']);
  if (vs.deaf) parts.push(['headOff', 'server deafened', 'vflag-server']);
  else if (vs.self_deaf) parts.push(['headOff', 'deafened', '']);
  return parts;
}

function speakingLabel(userId) {
  return speaking.has(userId) ? ', speaking' : '';
}

/**
 * The people in a voice channel, for the channel list (sidebar.js puts it
 * right under the channel's row). Null when nobody is there.
 */
export function voiceUsers(c) {
  const list = channelVoiceStates(c.id);
  if (!list.length) return null;
  const items = list.map((vs) => {
    const name = displayName(vs.user_id, c.guild_id);
    const flags = userFlags(vs);
    const talking = speaking.has(vs.user_id);
    return h('li', {
      class: `voice-user${talking ? ' speaking' : ''}`, 'data-user': vs.user_id,
    }, h('span', { class: 'voice-avatar' }, avatar(vs.user_id, name, 'xs')),
    h('span', { class: 'voice-name' }, name),
    h('span', { class: 'voice-talk', 'aria-hidden': 'true', title: 'Speaking' }, vicon('waves')),
    flags.map(([ic, label, cls]) => h('span', { class: `vflag ${cls}`, title: label[0].toUpperCase() + label.slice(1) }, vicon(ic))),
    h('span', { class: 'visually-hidden voice-sr' }, `${flags.map(([, l]) => `, ${l}`).join('')}${speakingLabel(vs.user_id)}`));
  });
  return h('li', { class: 'voice-users-row' },
    h('ul', { class: 'voice-users', 'aria-label': `In ${c.name}: ${list.length} ${list.length === 1 ? 'person' : 'people'}` }, items));
}

/** Speaking changes often: touch only that person's entries. */
function showSpeaking(userId) {
  const talking = speaking.has(userId);
  document.querySelectorAll(`.voice-user[data-user="${CSS.escape(userId)}"]`).forEach((li) => {
    li.classList.toggle('speaking', talking);
    const sr = li.querySelector('.voice-sr');
    if (sr) sr.textContent = sr.textContent.replace(/, speaking$/, '') + (talking ? ', speaking' : '');
  });
}

/** Extra work when a voice channel's row is clicked (after it navigates). */
export function voiceRowClicked(e, guildId, channelId) {
  if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  if (session?.channelId === channelId) return;
  joinVoice(guildId, channelId);
  // On a phone the channel panel stays open, so the result is seen.
  if (matchMedia('(max-width: 900px)').matches) document.body.classList.add('show-nav');
}

/** The connected-voice panel (above the user panel), or a problem note, or null. */
export function voicePanel() {
  const s = session;
  const joining = pendingJoin;
  if (!s && !joining) {
    if (!lastError) return null;
    return h('section', { class: 'voice-panel voice-ended', 'aria-label': 'Voice' },
      h('p', { class: 'voice-error', role: 'alert' }, lastError),
      h('button', { class: 'btn btn-small btn-quiet', type: 'button', 'data-key': 'voice-dismiss', onclick: () => { lastError = null; changed('voice'); } }, 'Dismiss'));
  }
  const channelId = s ? s.channelId : joining.channelId;
  const guildId = s ? s.guildId : joining.guildId;
  const status = !s ? 'Waiting for the microphone…'
    : s.status === 'connected' ? 'Voice connected'
      : s.status === 'failed' ? 'Voice connection failed'
        : s.status === 'unstable' ? 'Connection unstable…' : 'Connecting…';
  const mine = myState();
  const serverMuted = mine && mine.channel_id === channelId && (mine.mute || mine.suppress);
  const muted = s ? s.selfMute : false;
  const deaf = s ? s.selfDeaf : false;
  const where = state.guilds.get(guildId)?.guild.name;
  return h('section', { class: `voice-panel voice-${s?.status || 'connecting'}`, 'aria-label': 'Voice' },
    h('div', { class: 'voice-head' },
      h('div', { class: 'voice-where' },
        h('p', { class: 'voice-status' }, status),
        h('a', {
          class: 'voice-chan', href: `/channels/${guildId}/${channelId}`,
          onclick: (e) => {
            if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
            e.preventDefault();
            navigate(`/channels/${guildId}/${channelId}`);
          },
        }, channelName(channelId), where ? h('span', { class: 'muted' }, ` / ${where}`) : null)),
      h('button', {
        class: 'icon-btn voice-leave', type: 'button', 'data-key': 'voice-leave', 'aria-label': 'Leave voice', title: 'Leave voice',
        onclick: leaveVoice,
      }, vicon('hangup'))),
    h('div', { class: 'voice-controls' },
      h('button', {
        class: 'btn btn-small voice-btn', type: 'button', 'data-key': 'voice-mute', 'aria-pressed': String(muted),
        disabled: !s, onclick: toggleMute, title: muted ? 'Unmute' : 'Mute',
      }, vicon(muted ? 'micOff' : 'mic'), muted ? 'Unmute' : 'Mute'),
      h('button', {
        class: 'btn btn-small voice-btn', type: 'button', 'data-key': 'voice-deaf', 'aria-pressed': String(deaf),
        disabled: !s, onclick: toggleDeaf, title: deaf ? 'Undeafen' : 'Deafen',
      }, vicon(deaf ? 'headOff' : 'head'), deaf ? 'Undeafen' : 'Deafen')),
    serverMuted ? h('p', { class: 'voice-note' }, mine.mute ? 'A moderator muted you on this server.' : 'You may not speak in this channel.') : null,
    micProblem && s && !s.track ? h('div', { class: 'voice-mic-problem', role: 'alert' },
      h('p', { class: 'voice-error' }, micProblem.title), h('p', { class: 'hint' }, micProblem.help)) : null,
    lastError ? h('p', { class: 'voice-error', role: 'alert' }, lastError) : null);
}

/** Whether this tab is in (or joining) a voice channel; for other views. */
export function voiceChannelId() {
  return session?.channelId || pendingJoin?.channelId || null;
}
