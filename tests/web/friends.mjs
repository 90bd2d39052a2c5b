// Browser stories for friends, blocking and privacy in the web client, in
// real headless Chromium. Run by tests/web.rs:  node friends.mjs <server URL> <artifact dir>
// alice and bob (two browser contexts) become friends, message each other,
// block and unblock; bob changes who may message him.

import { join } from 'node:path';
import { Run, cliArgs, fail, fillRegistration, launch, newPerson, rest, until, sleep } from './harness.mjs';

const { base: BASE, artifacts: ARTIFACTS } = cliArgs('friends.mjs');
const run = new Run('friends stories');
const browser = await launch();

const person = (name, viewport) => newPerson(browser, run, name, viewport);

async function register(p, username) {
  await p.page.goto(`${BASE}/register`);
  await fillRegistration(p, username);
}

async function send(p, text) {
  const box = p.page.locator('#composer');
  await box.click();
  await box.fill(text);
  await box.press('Enter');
}

const bodies = (p) => p.page.locator('.messages .msg-body').allInnerTexts();
const sees = (p, text) => until(async () => (await bodies(p)).some((b) => b.includes(text)), `${p.name} to see "${text}"`);

const alice = await person('alice');
const bob = await person('bob');
let guild;
let general;

let exitCode = 0;
try {
  await run.story('home opens on the Friends view, with an add-friend form', async () => {
    await register(alice, 'alice');
    await register(bob, 'bob');
    await until(() => alice.page.getByRole('heading', { name: 'Friends' }).count(), 'the Friends heading');
    await until(() => alice.page.getByLabel('Add a friend by username').count(), 'the add-friend field');
    await until(() => alice.page.getByText('No friends are online right now.').count(), 'an empty Online list');
  });

  await run.story('alice asks bob by username, using only the keyboard', async () => {
    const field = alice.page.getByLabel('Add a friend by username');
    await field.focus();
    await alice.page.keyboard.type('BOB');
    await alice.page.keyboard.press('Enter');
    await until(() => alice.page.getByText('Friend request sent to BOB.').count(), 'the sent confirmation');
    await alice.page.getByRole('button', { name: 'Pending' }).click();
    await until(() => alice.page.getByRole('button', { name: 'Cancel friend request to bob' }).count(), 'the outgoing request');
    // A second request is refused with the server's words.
    await field.fill('bob');
    await field.press('Enter');
    await until(() => alice.page.getByRole('alert').filter({ hasText: 'already pending' }).count(), 'the duplicate refused');
  });

  await run.story('bob sees the pending badge and accepts with the keyboard', async () => {
    await until(() => bob.page.getByRole('link', { name: /^Friends.*1 friend request/ }).count(), 'the pending badge on Friends');
    await until(() => bob.page.getByRole('link', { name: /Direct messages.*1 friend request/ }).count(), 'the badge on the home icon');
    await bob.page.getByRole('button', { name: /^Pending/ }).click();
    const accept = bob.page.getByRole('button', { name: "Accept alice's friend request" });
    await accept.focus();
    await bob.page.keyboard.press('Enter');
    await until(() => bob.page.getByText('You and alice are now friends.').count(), 'the accepted confirmation');
    await alice.page.getByRole('button', { name: 'All' }).click();
    await until(() => alice.page.getByRole('button', { name: 'Message bob' }).count(), 'bob in alice\'s friends');
    await until(async () => !(await bob.page.getByRole('link', { name: /^Friends.*1 friend request/ }).count()), 'the badge gone');
  });

  await run.story('friends message each other without sharing a server', async () => {
    await alice.page.getByRole('button', { name: 'Message bob' }).click();
    await until(() => alice.page.url().match(/\/channels\/@me\/\d+$/), 'the DM to open');
    await send(alice, 'hi bob, friend');
    await bob.page.locator('.chan.dm', { hasText: 'alice' }).click();
    await sees(bob, 'hi bob, friend');
  });

  await run.story('screenshots of the Friends view: light, dark, phone', async () => {
    await bob.page.getByRole('link', { name: /^Friends/ }).click();
    await bob.page.getByRole('button', { name: 'All' }).click();
    await until(() => bob.page.getByRole('button', { name: 'Message alice' }).count(), 'alice in bob\'s list');
    // A pending request too, so every kind of row shows.
    await register(await person('carol'), 'carol').catch(() => {});
    await rest(bob, 'POST', '/users/@me/relationships', { username: 'carol' });
    await bob.page.getByRole('button', { name: 'Pending' }).click();
    await until(() => bob.page.getByRole('button', { name: 'Cancel friend request to carol' }).count(), 'the outgoing request to carol');
    await bob.page.screenshot({ path: join(ARTIFACTS, 'friends-1280x800-light.png') });
    await bob.page.emulateMedia({ colorScheme: 'dark' });
    await bob.page.getByRole('button', { name: 'All' }).click();
    await bob.page.screenshot({ path: join(ARTIFACTS, 'friends-1280x800-dark.png') });
    await bob.page.setViewportSize({ width: 390, height: 844 });
    await sleep(300);
    await bob.page.screenshot({ path: join(ARTIFACTS, 'friends-390x844-dark.png') });
    const wide = await bob.page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth
      || document.querySelector('.friends').scrollWidth > document.querySelector('.friends').clientWidth);
    if (wide) fail('horizontal scrolling at 390 px');
    await bob.page.setViewportSize({ width: 1280, height: 800 });
    await bob.page.emulateMedia({ colorScheme: 'light' });
  });

  await run.story('bob blocks alice from her member card: her messages hide behind a marker', async () => {
    guild = await rest(alice, 'POST', '/guilds', { name: 'Corner' });
    const chans = await rest(alice, 'GET', `/guilds/${guild.id}/channels`);
    general = chans.find((c) => c.kind === 'text').id;
    const invite = await rest(alice, 'POST', `/channels/${general}/invites`, {});
    await rest(bob, 'POST', `/invites/${invite.code}`, {});
    await alice.page.goto(`${BASE}/channels/${guild.id}/${general}`);
    await bob.page.goto(`${BASE}/channels/${guild.id}/${general}`);
    await send(alice, 'before the block');
    await sees(bob, 'before the block');
    await bob.page.getByRole('button', { name: /^alice, / }).click();
    await bob.page.getByRole('button', { name: 'Block', exact: true }).click();
    await until(() => bob.page.getByRole('button', { name: 'Show 1 blocked message' }).count(), 'the blocked marker');
    await send(alice, 'after the block');
    await until(() => bob.page.getByRole('button', { name: 'Show 2 blocked messages' }).count(), 'the marker counting both');
    if ((await bodies(bob)).some((b) => b.includes('the block'))) fail('a blocked message is visible');
    // Click to reveal, like Discord; and hide again.
    await bob.page.getByRole('button', { name: 'Show 2 blocked messages' }).click();
    await sees(bob, 'after the block');
    await bob.page.screenshot({ path: join(ARTIFACTS, 'blocked-revealed-1280x800-light.png') });
    await bob.page.getByRole('button', { name: 'Hide 2 blocked messages' }).click();
    await until(async () => !(await bodies(bob)).some((b) => b.includes('the block')), 'hidden again');
    await bob.page.setViewportSize({ width: 390, height: 844 });
    await bob.page.emulateMedia({ colorScheme: 'dark' });
    await sleep(300);
    await bob.page.screenshot({ path: join(ARTIFACTS, 'blocked-390x844-dark.png') });
    await bob.page.setViewportSize({ width: 1280, height: 800 });
    await bob.page.emulateMedia({ colorScheme: 'light' });
  });

  await run.story('alice cannot message bob while blocked; bob sees her under Blocked', async () => {
    await alice.page.getByRole('link', { name: /^Direct messages/ }).click();
    await alice.page.locator('.chan.dm', { hasText: 'bob' }).click();
    await send(alice, 'are you there?');
    await until(() => alice.page.getByText('Not sent: cannot send messages to this user').count(), 'the refusal under the message');
    await bob.page.getByRole('link', { name: /^Direct messages/ }).click();
    await bob.page.getByRole('link', { name: /^Friends/ }).click();
    await bob.page.getByRole('button', { name: 'Blocked' }).click();
    await until(() => bob.page.getByRole('button', { name: 'Unblock alice' }).count(), 'alice under Blocked');
    // Bob's own DM composer says why it is off.
    await bob.page.locator('.chan.dm', { hasText: 'alice' }).click();
    await until(async () => (await bob.page.locator('#composer').getAttribute('placeholder') || '').includes('You blocked alice'), 'the blocked composer');
    if (!(await bob.page.locator('#composer').isDisabled())) fail('composer enabled in a DM with a blocked user');
  });

  await run.story('bob turns off DMs from server members in his privacy settings', async () => {
    await bob.page.getByRole('button', { name: 'Privacy settings' }).click();
    const allow = bob.page.getByLabel('Allow direct messages from server members');
    if (!(await allow.isChecked())) fail('DMs from server members should be on by default');
    await allow.focus();
    await bob.page.keyboard.press('Space');
    await until(() => bob.page.getByRole('status').filter({ hasText: 'Saved.' }).count(), 'the setting saved');
    await until(async () => !(await bob.page.getByRole('checkbox', { name: 'Corner' }).isChecked()), 'the server follows the default');
    await bob.page.getByRole('checkbox', { name: 'Corner' }).check();
    await until(async () => (await rest(bob, 'GET', '/users/@me/settings')).guild_dm_overrides.length === 1, 'the per-server exception stored');
    await bob.page.getByLabel('Only friends can add me to group messages').check();
    await until(async () => (await rest(bob, 'GET', '/users/@me/settings')).group_dms_friends_only, 'friends-only group messages stored');
    await bob.page.screenshot({ path: join(ARTIFACTS, 'privacy-1280x800-light.png') });
    await bob.page.emulateMedia({ colorScheme: 'dark' });
    await bob.page.screenshot({ path: join(ARTIFACTS, 'privacy-1280x800-dark.png') });
    await bob.page.emulateMedia({ colorScheme: 'light' });
    await bob.page.keyboard.press('Escape');
    const s = await rest(bob, 'GET', '/users/@me/settings');
    if (s.allow_guild_dms !== false || s.guild_dm_overrides[0]?.allow_dms !== true) fail(`settings not stored: ${JSON.stringify(s)}`);
  });

  await run.story('bob unblocks alice from her member card; her messages show again', async () => {
    await bob.page.goto(`${BASE}/channels/${guild.id}/${general}`);
    await bob.page.getByRole('button', { name: /^alice, / }).click();
    await bob.page.getByRole('button', { name: 'Unblock' }).click();
    await sees(bob, 'after the block');
    await alice.page.getByRole('button', { name: 'Retry' }).click();
    await bob.page.getByRole('link', { name: /^Direct messages/ }).click();
    await bob.page.locator('.chan.dm', { hasText: 'alice' }).click();
    await sees(bob, 'are you there?');
  });

  run.checkPages();
} catch (e) {
  exitCode = 1;
  await run.failed(e, [alice, bob], ARTIFACTS, 'friends-failure-');
} finally {
  await browser.close();
}
run.exit(exitCode);
