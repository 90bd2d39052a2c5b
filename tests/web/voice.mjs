// Voice through the web client, end to end, in real headless Chromium.
// Run by tests/web.rs:  node voice.mjs <server URL> <artifact dir>
//
// Two people join the same voice channel by clicking it in the channel list;
// Chromium's fake microphone plays a beep, and each page's
// RTCPeerConnection (exposed by js/voice.js as window.__hearthVoice.pc, a
// read-only test hook) must show the other's audio arriving through
// Hearth's SFU: inbound-rtp packets and a non-zero audio level. Then mute,
// deafen, leave, and a third person whose microphone is refused joins
// listen-only.

import { join } from 'node:path';
import { Run, cliArgs, fail, launch, sleep, until as untilWithin } from './harness.mjs';

const { base: BASE, artifacts: ARTIFACTS } = cliArgs('voice.mjs');
const run = new Run('voice stories');
// WebRTC setup takes longer than page updates: a longer default wait.
const until = (fn, what, timeout = 15000) => untilWithin(fn, what, timeout);
const browser = await launch([
  // A fake microphone (a periodic beep), permission prompts answered yes,
  // and WebRTC allowed on loopback, where the test server's voice port is.
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--allow-loopback-in-peer-connection',
]);


async function person(name, { viewport = { width: 1280, height: 800 }, refuseMic = false } = {}) {
  const context = await browser.newContext({ viewport, colorScheme: 'light' });
  if (refuseMic) {
    // What a browser does when the user (or a site setting) blocks the
    // microphone: getUserMedia rejects with NotAllowedError.
    await context.addInitScript(() => {
      navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
    });
  }
  // The gateway goes through a route the test can cut, to simulate network drops.
  const net = { sockets: [], blocked: false };
  await context.routeWebSocket(/\/gateway/, (ws) => {
    if (net.blocked) {
      ws.close({ code: 4000, reason: 'network down (test)' });
      return;
    }
    ws.connectToServer();
    net.sockets.push(ws);
  });
  const page = await context.newPage();
  run.watch(page, name);
  return { name, context, page, net };
}

// 4009 (session timed out) is one the client may resume after, as after a
// real network drop (browsers report 1006, which cannot be sent).
const dropGateway = (p) => p.net.sockets.splice(0).forEach((ws) => ws.close({ code: 4009, reason: 'network drop (test)' }));
const gatewayUp = (p) => p.page.evaluate(() => !document.querySelector('.conn.on'));

async function register(p, username) {
  await p.page.getByLabel('Username').fill(username);
  await p.page.getByLabel('Password').fill('correct horse battery');
  await p.page.getByRole('button', { name: 'Create account' }).click();
  await until(() => p.page.locator('.me-name').count(), `${username} logged in`);
}

/** Audio arriving on a page's voice connection: summed over remote lines. */
async function inbound(p) {
  return p.page.evaluate(async () => {
    const pc = window.__hearthVoice?.pc;
    if (!pc) return null;
    const out = { packets: 0, energy: 0, level: 0, lines: 0, state: pc.connectionState };
    (await pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'audio') {
        out.lines += 1;
        out.packets += r.packetsReceived || 0;
        out.energy += r.totalAudioEnergy || 0;
        out.level = Math.max(out.level, r.audioLevel || 0);
      }
    });
    return out;
  });
}

const voiceRow = (p) => p.page.locator('.chan[data-kind=voice]', { hasText: 'General' });
/** The names listed under the voice channel, as this page shows them. */
const voiceNames = (p) => p.page.locator('.voice-users .voice-name').allInnerTexts();
async function userId(p) {
  return p.page.evaluate(async () => {
    const r = await fetch('/api/v1/users/@me', { headers: { Authorization: `Bearer ${localStorage.getItem('hearth.token')}` } });
    return (await r.json()).id;
  });
}

let inviteUrl;
let guildUrl;
const alice = await person('alice');
const bob = await person('bob');
let carol = null;
const ids = {};

let exitCode = 0;
try {
  await run.story('alice and bob share a server (sign-up, invite, join)', async () => {
    await alice.page.goto(`${BASE}/register`);
    await register(alice, 'alice');
    await alice.page.getByRole('button', { name: 'Create or join a server' }).click();
    await alice.page.getByLabel('Server name').fill('Voice Club');
    await alice.page.getByRole('button', { name: 'Create server' }).click();
    await until(() => alice.page.url().match(/\/channels\/\d+\/\d+$/), 'the new guild to open');
    guildUrl = alice.page.url();
    await until(() => voiceRow(alice).count(), 'the voice channel listed');
    await alice.page.getByRole('button', { name: 'Invite people' }).click();
    inviteUrl = await until(async () => {
      const v = await alice.page.locator('#invite-link').inputValue().catch(() => '');
      return v.includes('/invite/') ? v : null;
    }, 'an invite link');
    await alice.page.keyboard.press('Escape');
    await bob.page.goto(inviteUrl);
    await until(() => bob.page.url().endsWith('/login'), 'bob sent to log in');
    await bob.page.getByRole('link', { name: 'Create an account' }).click();
    await register(bob, 'bob');
    await bob.page.getByRole('button', { name: 'Join Voice Club' }).click();
    await until(() => bob.page.url() === guildUrl, 'bob in the guild');
    for (const p of [alice, bob]) ids[p.name] = await userId(p);
  });

  await run.story('both click the voice channel and are connected, listed on both pages', async () => {
    await voiceRow(alice).click();
    await until(() => alice.page.locator('.voice-panel', { hasText: 'Voice connected' }).count(), 'alice connected');
    // Joining also opens the voice channel's text chat.
    await until(() => alice.page.getByRole('heading', { name: 'General' }).count(), 'the voice channel\'s chat open');
    await voiceRow(bob).click();
    await until(() => bob.page.locator('.voice-panel', { hasText: 'Voice connected' }).count(), 'bob connected');
    for (const p of [alice, bob]) {
      await until(async () => {
        const names = await voiceNames(p);
        return names.includes('alice') && names.includes('bob') && names.length === 2;
      }, `${p.name} lists alice and bob in General`);
      const list = p.page.getByRole('list', { name: 'In General: 2 people' });
      if (!(await list.count())) fail(`${p.name}: the voice list has no accessible name`);
      for (const b of ['Mute', 'Deafen']) {
        const pressed = await p.page.getByRole('button', { name: b, exact: true }).getAttribute('aria-pressed');
        if (pressed !== 'false') fail(`${p.name}: ${b} aria-pressed=${pressed}`);
      }
      if (!(await p.page.getByRole('button', { name: 'Leave voice' }).count())) fail(`${p.name}: no Leave voice button`);
    }
    // Announced to screen readers.
    await until(async () => /Voice connected to General/.test(await alice.page.locator('#voice-announcer').textContent()), 'the join announced');
  });

  await run.story('each page receives the other\'s audio through the SFU (getStats)', async () => {
    for (const p of [alice, bob]) {
      await until(async () => {
        const s = await inbound(p);
        // A beep (not just comfort noise) has arrived: real audio energy.
        return s && s.packets > 20 && s.level > 0 && s.energy > 0.001 ? s : null;
      }, `${p.name} to receive audio with a level`, 20000);
      const s = await inbound(p);
      console.log(`      ${p.name}: ${JSON.stringify(s)}`);
      const players = await p.page.locator('#voice-audio audio').count();
      if (players !== 1) fail(`${p.name}: ${players} audio players, want 1 (the other person)`);
      // It plays (the page's CSP lets a MediaStream play; autoplay follows the click).
      await until(() => p.page.locator('#voice-audio audio').evaluate((el) => !el.paused && el.currentTime > 0), `${p.name}'s player playing`);
    }
  });

  await run.story('speaking shows as a ring and a wave on the speaker, with text for screen readers', async () => {
    // The fake microphone beeps about once a second: wait for a beep.
    for (const [p, other] of [[alice, 'bob'], [bob, 'alice']]) {
      const who = p.page.locator(`.voice-user.speaking[data-user="${ids[other]}"]`);
      await until(() => who.count(), `${p.name} sees ${other} speaking`, 15000);
      const cue = await who.first().evaluate((li) => ({
        ring: getComputedStyle(li.querySelector('.voice-avatar')).boxShadow,
        wave: getComputedStyle(li.querySelector('.voice-talk')).display,
        sr: li.querySelector('.voice-sr').textContent,
      })).catch(() => null);
      // The indicator may have stopped between the two reads; it shows again on the next beep.
      if (cue && (cue.ring === 'none' || cue.wave === 'none' || !cue.sr.includes('speaking'))) fail(`speaking cues missing: ${JSON.stringify(cue)}`);
    }
  });

  await run.story('screenshots with voice connected (1280×800 and 390×844)', async () => {
    await alice.page.screenshot({ path: join(ARTIFACTS, 'voice-desktop-1280x800-light.png') });
    await alice.page.emulateMedia({ colorScheme: 'dark' });
    await alice.page.screenshot({ path: join(ARTIFACTS, 'voice-desktop-1280x800-dark.png') });
    await alice.page.emulateMedia({ colorScheme: 'light' });
    await bob.page.setViewportSize({ width: 390, height: 844 });
    await sleep(200);
    await bob.page.getByRole('button', { name: 'Show channels' }).click();
    await sleep(300);
    await bob.page.screenshot({ path: join(ARTIFACTS, 'voice-phone-390x844-channels.png') });
    const wide = await bob.page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth
      || document.querySelector('.sidebar').scrollWidth > document.querySelector('.sidebar').clientWidth);
    if (wide) fail('horizontal scrolling at 390 px with the voice panel');
    await bob.page.keyboard.press('Escape');
    await bob.page.setViewportSize({ width: 1280, height: 800 });
  });

  await run.story('mute stops bob\'s audio reaching alice, and unmute restarts it', async () => {
    const mute = bob.page.getByRole('button', { name: 'Mute', exact: true });
    await mute.click();
    const unmute = bob.page.getByRole('button', { name: 'Unmute', exact: true });
    await until(async () => (await unmute.getAttribute('aria-pressed')) === 'true', 'Unmute pressed');
    // Alice sees bob muted (icon with a title and screen-reader text).
    await until(() => alice.page.locator(`.voice-user[data-user="${ids.bob}"] .vflag[title="Muted"]`).count(), 'alice sees bob muted');
    await sleep(500); // packets already in flight
    const a = await inbound(alice);
    await sleep(1500);
    const b = await inbound(alice);
    if (b.packets !== a.packets) fail(`alice still receives bob while he is muted: ${a.packets} → ${b.packets}`);
    // Bob still hears alice.
    const c = await inbound(bob);
    await sleep(500);
    if ((await inbound(bob)).packets <= c.packets) fail('bob stopped hearing alice when he muted himself');
    await unmute.click();
    await until(async () => (await inbound(alice)).packets > b.packets + 10, 'bob\'s audio back after unmute');
    if (await alice.page.locator(`.voice-user[data-user="${ids.bob}"] .vflag`).count()) fail('bob still shown muted');
  });

  await run.story('deafen stops audio reaching bob and mutes him; undeafen restores both', async () => {
    await bob.page.getByRole('button', { name: 'Deafen', exact: true }).click();
    const undeafen = bob.page.getByRole('button', { name: 'Undeafen', exact: true });
    await until(async () => (await undeafen.getAttribute('aria-pressed')) === 'true', 'Undeafen pressed');
    if ((await bob.page.getByRole('button', { name: 'Unmute', exact: true }).getAttribute('aria-pressed')) !== 'true') fail('deafen did not mute');
    await until(() => alice.page.locator(`.voice-user[data-user="${ids.bob}"] .vflag[title="Deafened"]`).count(), 'alice sees bob deafened');
    await sleep(500);
    const a = await inbound(bob);
    await sleep(1500);
    const b = await inbound(bob);
    if (b.packets !== a.packets) fail(`bob still receives audio while deafened: ${a.packets} → ${b.packets}`);
    if (!(await bob.page.locator('#voice-audio audio').evaluateAll((els) => els.every((e) => e.muted)))) fail('players not muted');
    await undeafen.click();
    await until(async () => (await inbound(bob)).packets > b.packets + 10, 'audio to bob back after undeafen');
    await until(async () => (await bob.page.getByRole('button', { name: 'Mute', exact: true }).getAttribute('aria-pressed')) === 'false', 'unmuted again');
  });

  await run.story('a dropped gateway connection resumes and keeps the same voice connection', async () => {
    await until(() => gatewayUp(bob), 'bob connected');
    await bob.page.evaluate(() => { window.__pcBeforeDrop = window.__hearthVoice.pc; });
    dropGateway(bob);
    await until(() => bob.page.locator('.conn.on').count(), 'bob sees "reconnecting"', 3000);
    await until(() => gatewayUp(bob), 'bob resumed');
    if (!(await bob.page.evaluate(() => window.__hearthVoice.pc === window.__pcBeforeDrop))) fail(`the peer connection was replaced: ${JSON.stringify(await bob.page.evaluate(() => ({ now: String(window.__hearthVoice.pc), before: String(window.__pcBeforeDrop), panel: document.querySelector('.sidebar')?.textContent })))}`);
    const a = await inbound(bob);
    const b = await inbound(alice);
    await until(async () => (await inbound(bob)).packets > a.packets + 10 && (await inbound(alice)).packets > b.packets + 10, 'audio still flowing both ways');
    if (!(await bob.page.locator('.voice-panel', { hasText: 'Voice connected' }).count())) fail('bob\'s panel changed');
  });

  await run.story('leave removes bob from the list on alice\'s page and closes his connection', async () => {
    await bob.page.getByRole('button', { name: 'Leave voice' }).click();
    await until(async () => !(await voiceNames(alice)).includes('bob'), 'bob gone from alice\'s voice list');
    if (await bob.page.evaluate(() => window.__hearthVoice.pc)) fail('bob still has a peer connection');
    if (await bob.page.locator('.voice-panel').count()) fail('bob still shows the voice panel');
    await until(async () => /You left voice/.test(await bob.page.locator('#voice-announcer').textContent()), 'the leave announced');
    // Alice's connection lost bob's line: no player left for him.
    await until(async () => (await alice.page.locator('#voice-audio audio').count()) === 0, 'alice\'s player for bob removed');
  });

  await run.story('an outage longer than the resume grace ends voice, and bob is told', async () => {
    await voiceRow(bob).click();
    await until(() => bob.page.locator('.voice-panel', { hasText: 'Voice connected' }).count(), 'bob back in voice');
    await until(async () => (await voiceNames(alice)).includes('bob'), 'alice sees bob back');
    bob.net.blocked = true;
    dropGateway(bob);
    // Longer than the server's resume grace (tests/web.rs starts it with 2 s).
    await sleep(3500);
    bob.net.blocked = false;
    await until(() => gatewayUp(bob), 'bob reconnected with a new session', 20000);
    await until(() => bob.page.locator('.voice-panel .voice-error', { hasText: 'Voice disconnected' }).count(), 'bob told voice ended');
    if (await bob.page.evaluate(() => window.__hearthVoice.pc)) fail('bob still has a peer connection');
    await until(async () => !(await voiceNames(alice)).includes('bob'), 'bob gone from alice\'s list');
    await until(async () => !(await voiceNames(bob)).includes('bob'), 'bob gone from his own list');
    await bob.page.getByRole('button', { name: 'Dismiss' }).click();
    if (await bob.page.locator('.voice-panel').count()) fail('the note did not go away');
  });

  await run.story('a refused microphone is explained, and carol joins listen-only and hears alice', async () => {
    carol = await person('carol', { refuseMic: true });
    await carol.page.goto(inviteUrl);
    await until(() => carol.page.url().endsWith('/login'), 'carol sent to log in');
    await carol.page.getByRole('link', { name: 'Create an account' }).click();
    await register(carol, 'carol');
    await carol.page.getByRole('button', { name: 'Join Voice Club' }).click();
    await until(() => carol.page.url() === guildUrl, 'carol in the guild');
    await voiceRow(carol).click();
    const note = carol.page.locator('.voice-mic-problem[role=alert]');
    await until(() => note.count(), 'the microphone explanation');
    const text = await note.innerText();
    for (const part of ['Microphone blocked', 'listen-only', 'Allow', 'Unmute']) {
      if (!text.includes(part)) fail(`the explanation lacks "${part}": ${text}`);
    }
    await until(() => carol.page.locator('.voice-panel', { hasText: 'Voice connected' }).count(), 'carol connected listen-only');
    const pressed = await carol.page.getByRole('button', { name: 'Unmute', exact: true }).getAttribute('aria-pressed');
    if (pressed !== 'true') fail('listen-only is not shown as muted');
    await until(async () => (await voiceNames(alice)).includes('carol'), 'alice sees carol in voice');
    ids.carol = await userId(carol);
    await until(() => alice.page.locator(`.voice-user[data-user="${ids.carol}"] .vflag[title="Muted"]`).count(), 'alice sees carol muted');
    await until(async () => {
      const s = await inbound(carol);
      return s && s.packets > 20 && s.energy > 0.001;
    }, 'carol hears alice', 20000);
    await carol.page.screenshot({ path: join(ARTIFACTS, 'voice-desktop-1280x800-mic-refused.png') });
    // Unmute asks again; still refused, so she stays listen-only and is told why.
    await carol.page.getByRole('button', { name: 'Unmute', exact: true }).click();
    await sleep(300);
    if ((await carol.page.getByRole('button', { name: 'Unmute', exact: true }).getAttribute('aria-pressed')) !== 'true') fail('unmuted without a microphone');
  });

  await run.story('keyboard: the voice channel joins with Enter, the panel\'s buttons work with Space', async () => {
    await carol.page.getByRole('button', { name: 'Leave voice' }).focus();
    await carol.page.keyboard.press('Enter');
    await until(async () => !(await carol.page.locator('.voice-panel:not(.voice-ended)').count()), 'carol left by keyboard');
    await voiceRow(carol).focus();
    const outline = await voiceRow(carol).evaluate((el) => getComputedStyle(el).outlineStyle);
    if (outline === 'none') fail('no visible focus on the voice channel');
    await carol.page.keyboard.press('Enter');
    await until(() => carol.page.locator('.voice-panel', { hasText: 'Voice connected' }).count(), 'carol joined by keyboard');
    await carol.page.getByRole('button', { name: 'Deafen', exact: true }).focus();
    await carol.page.keyboard.press('Space');
    await until(async () => (await carol.page.getByRole('button', { name: 'Undeafen', exact: true }).getAttribute('aria-pressed')) === 'true', 'deafened by keyboard');
    if (!(await carol.page.evaluate(() => document.activeElement?.dataset.key === 'voice-deaf'))) fail('focus lost after the panel redrew');
  });

  run.checkPages();
} catch (e) {
  exitCode = 1;
  await run.failed(e, [alice, bob, carol], ARTIFACTS, 'voice-failure-');
} finally {
  await browser.close();
}
run.exit(exitCode);
