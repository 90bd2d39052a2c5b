// Browser stories for message actions: edit in place (Up arrow, Escape),
// delete (confirmation, Shift skips it), replies (preview, jump, deleted
// original, history loaded around an old original), reactions (quick and
// picker, seen by the other person, toggled off), pins (panel, system
// message), mention autocomplete and highlighting, embeds rendered safely,
// message links, the keyboard, the composer counter, permission
// descriptions; screenshots in both themes and at phone size.
// Run by tests/web.rs:  node messages.mjs <server URL> <artifact dir>

import { join } from 'node:path';
import { Run, cliArgs, fail, fillRegistration, launch, newPerson, rest, sleep, until } from './harness.mjs';

const { base: BASE, artifacts: ARTIFACTS } = cliArgs('messages.mjs');
const run = new Run('message stories');
const browser = await launch();
const person = (name, viewport) => newPerson(browser, run, name, viewport);
const shot = (p, name) => p.page.screenshot({ path: join(ARTIFACTS, `messages-${name}.png`) });

/** The message row whose body contains `text`. */
const msg = (p, text) => p.page.locator('.msg', { has: p.page.locator('.msg-body', { hasText: text }) });

async function sees(p, text, timeout) {
  await until(() => msg(p, text).count(), `${p.name} to see "${text}"`, timeout);
}

async function gone(p, text) {
  await until(async () => !(await msg(p, text).count()), `"${text}" to disappear for ${p.name}`);
}

async function send(p, text) {
  const box = p.page.locator('#composer');
  await box.click();
  await box.fill(text);
  await box.press('Enter');
  await sees(p, text);
  await until(async () => !(await p.page.locator('.msg.pending').count()), `${p.name}'s send confirmed`);
}

/** Hover a message (shows its action bar) and click one of its actions. */
async function act(p, text, name, opts = {}) {
  const row = msg(p, text).last();
  await row.hover();
  await row.locator('.msg-actions').getByRole('button', { name, exact: opts.exact ?? false }).click(opts.click || {});
}

/** REST with retries on 429 (the stories send in bursts). */
async function call(p, method, path, body) {
  for (let i = 0; i < 50; i += 1) {
    const r = await p.page.evaluate(async ([m, url, b]) => {
      const res = await fetch(`/api/v1${url}`, {
        method: m,
        headers: { Authorization: `Bearer ${localStorage.getItem('hearth.token')}`, 'Content-Type': 'application/json' },
        body: b === undefined ? undefined : JSON.stringify(b),
      });
      return { status: res.status, body: res.status === 204 ? null : await res.json().catch(() => null) };
    }, [method, path, body]);
    if (r.status !== 429) {
      if (r.status >= 400) fail(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    }
    await sleep(Math.min(2000, r.body?.retry_after_ms || 200));
  }
  fail(`${method} ${path}: still rate limited`);
}

let guildId;
let generalId;
let aliceId;
let bobId;
const alice = await person('alice');
const bob = await person('bob');
await bob.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
// Nothing may ask another origin for an image (embeds show only our own).
const foreign = [];
for (const p of [alice, bob]) {
  p.page.on('request', (r) => {
    if (!r.url().startsWith(BASE) && !r.url().startsWith('data:')) foreign.push(r.url());
  });
}

let exitCode = 0;
try {
  await run.story('home has a clean heading (no "null"), then alice creates a server and bob joins', async () => {
    await alice.page.goto(`${BASE}/register`);
    await fillRegistration(alice, 'alice');
    await until(() => alice.page.getByRole('heading', { level: 1, name: 'Friends' }).count(), 'the Friends heading');
    const head = await alice.page.locator('.chat-head').innerText();
    if (/null/.test(head)) fail(`the chat heading reads "${head}"`);
    aliceId = (await rest(alice, 'GET', '/users/@me')).id;
    const g = await rest(alice, 'POST', '/guilds', { name: 'Readers' });
    guildId = g.id;
    await until(() => alice.page.locator(`.rail-item[title="Readers"]`).count(), 'the guild in the rail');
    await alice.page.goto(`${BASE}/channels/${guildId}`);
    await until(() => alice.page.url().match(/\/channels\/\d+\/\d+$/), 'the first channel open');
    generalId = alice.page.url().split('/').pop();
    const inv = await rest(alice, 'POST', `/channels/${generalId}/invites`, {});
    await bob.page.goto(`${BASE}/invite/${inv.code}`);
    await bob.page.getByRole('link', { name: 'Create an account' }).click();
    await fillRegistration(bob, 'bob');
    await bob.page.getByRole('button', { name: 'Join Readers' }).click();
    await until(() => bob.page.url().endsWith(`/channels/${guildId}/${generalId}`), 'bob in #general');
    bobId = (await rest(bob, 'GET', '/users/@me')).id;
    await until(() => alice.page.getByRole('button', { name: 'bob, Online' }).count(), 'alice sees bob');
  });

  await run.story('mention autocomplete: @ali, Enter picks, alice sees the message highlighted', async () => {
    const box = bob.page.locator('#composer');
    await box.click();
    await box.pressSequentially('hey @ali');
    const option = bob.page.locator('.autocomplete').getByRole('option', { name: /alice/ });
    await until(() => option.count(), 'the suggestion');
    if ((await box.getAttribute('aria-expanded')) !== 'true') fail('the box does not say the list is open');
    await box.press('Enter');
    const v = await box.inputValue();
    if (v !== 'hey @alice ') fail(`picked text is "${v}"`);
    await box.pressSequentially('welcome to #gen');
    await until(() => bob.page.locator('.autocomplete').getByRole('option', { name: /#general/ }).count(), 'the channel suggestion');
    await box.press('Tab');
    await box.pressSequentially('!');
    await box.press('Enter');
    await sees(alice, 'welcome to #general !');
    const row = msg(alice, 'hey @alice');
    await until(() => row.locator('.mention.me', { hasText: '@alice' }).count(), 'the pill for alice');
    if (!(await row.evaluate((el) => el.classList.contains('mentions-me')))) fail('the message is not highlighted for alice');
    if (!(await row.locator('a.mention.channel', { hasText: '#general' }).count())) fail('no channel pill');
    const [stored] = await rest(alice, 'GET', `/channels/${generalId}/messages?limit=1`);
    if (!stored.content.includes(`<@${aliceId}>`) || !stored.content.includes(`<#${generalId}>`)) fail(`stored as ${stored.content}`);
    // Escape dismisses the list and keeps the text.
    await box.pressSequentially('@b');
    await until(() => bob.page.locator('.autocomplete').getByRole('option').count(), 'suggestions again');
    await box.press('Escape');
    if (await bob.page.locator('.autocomplete').getByRole('option').count()) fail('Escape did not close the suggestions');
    await box.fill('');
  });

  await run.story('reply with a quoted preview and a ping, then jump to the original', async () => {
    await act(alice, 'hey @alice', 'Reply');
    const bar = alice.page.locator('.reply-bar');
    await until(async () => (await bar.innerText()).includes('Replying to bob'), 'the reply bar');
    if (!(await bar.innerText()).includes('hey @alice')) fail('no preview in the reply bar');
    if ((await alice.page.getByRole('button', { name: 'Mention bob when replying' }).getAttribute('aria-pressed')) !== 'true') fail('mention not on by default');
    await alice.page.locator('#composer').pressSequentially('thanks bob, glad you came');
    await alice.page.locator('#composer').press('Enter');
    await sees(bob, 'thanks bob, glad you came');
    await until(async () => !(await bar.isVisible()), 'the reply bar closed after sending');
    const reply = bob.page.locator('.group', { has: bob.page.locator('.msg-body', { hasText: 'thanks bob' }) });
    await until(() => reply.locator('.reply-line', { hasText: 'hey @alice' }).count(), 'bob sees the quoted line');
    await until(() => msg(bob, 'thanks bob').evaluate((el) => el.classList.contains('mentions-me')), 'the reply pings bob');
    await reply.getByRole('button', { name: /Jump to the original message/ }).click();
    await until(() => msg(bob, 'hey @alice').evaluate((el) => el.classList.contains('flash')), 'the original flashes');
    // Mention off: bob's reply does not ping alice.
    await act(bob, 'thanks bob', 'Reply');
    await bob.page.getByRole('button', { name: 'Mention alice when replying' }).click();
    if ((await bob.page.getByRole('button', { name: 'Mention alice when replying' }).getAttribute('aria-pressed')) !== 'false') fail('toggle did not turn off');
    await bob.page.locator('#composer').pressSequentially('quiet reply');
    await bob.page.locator('#composer').press('Enter');
    await sees(alice, 'quiet reply');
    await sleep(300);
    if (await msg(alice, 'quiet reply').evaluate((el) => el.classList.contains('mentions-me'))) fail('a reply with mention off pinged');
    // Escape cancels a reply.
    await act(bob, 'quiet reply', 'Reply');
    await bob.page.locator('#composer').press('Escape');
    if (await bob.page.locator('.reply-bar').isVisible()) fail('Escape did not cancel the reply');
  });

  await run.story('edit in place: Up arrow edits the last message, Escape cancels, Enter saves', async () => {
    await send(alice, 'I like bokks');
    const box = alice.page.locator('#composer');
    await box.click();
    await box.press('ArrowUp');
    const edit = alice.page.getByRole('textbox', { name: 'Edit message' });
    await until(() => edit.count(), 'the edit box');
    if ((await edit.inputValue()) !== 'I like bokks') fail('the edit box does not hold the message');
    await edit.fill('I like crooks');
    await edit.press('Escape');
    await until(async () => !(await edit.count()), 'edit cancelled');
    if (!(await msg(alice, 'I like bokks').count())) fail('Escape changed the message');
    await box.click();
    await box.press('ArrowUp');
    await until(() => edit.count(), 'the edit box again');
    await edit.fill('I like books');
    await shot(alice, 'edit-light');
    await edit.press('Enter');
    await sees(bob, 'I like books');
    await until(() => msg(bob, 'I like books').locator('.edited').count(), 'bob sees "(edited)"');
    if (await msg(bob, 'bokks').count()) fail('bob still sees the old text');
  });

  await run.story('reactions: a quick reaction, the picker, the other person sees counts, toggle off', async () => {
    await act(bob, 'I like books', 'React with thumbs up sign');
    const thumbs = (p) => msg(p, 'I like books').locator('.reaction', { hasText: '👍' });
    await until(async () => (await thumbs(alice).innerText()).includes('1'), 'alice sees 👍 1');
    await until(async () => (await thumbs(bob).getAttribute('aria-pressed')) === 'true', 'bob\'s own reaction marked');
    if ((await thumbs(alice).getAttribute('aria-pressed')) !== 'false') fail('alice\'s pill claims her reaction');
    await act(alice, 'I like books', 'Add reaction', { exact: true });
    const search = alice.page.getByRole('searchbox', { name: 'Search emoji' });
    await until(() => search.count(), 'the emoji picker');
    await search.fill('popper');
    await shot(alice, 'picker-light');
    await search.press('Enter');
    await until(async () => !(await search.count()), 'the picker closed');
    const party = (p) => msg(p, 'I like books').locator('.reaction', { hasText: '🎉' });
    await until(() => party(bob).count(), 'bob sees 🎉');
    // Joining an existing reaction by its pill.
    await thumbs(alice).click();
    await until(async () => (await thumbs(bob).innerText()).includes('2'), 'bob sees 👍 2');
    // Who reacted (a tooltip fetched from the server).
    await thumbs(bob).hover();
    await until(async () => /alice/.test((await thumbs(bob).getAttribute('title')) || '') && /bob/.test(await thumbs(bob).getAttribute('title')), 'who reacted');
    await thumbs(bob).click();
    await until(async () => (await thumbs(alice).innerText()).includes('1'), 'bob took his back');
    await thumbs(alice).click();
    await until(async () => !(await thumbs(bob).count()), 'the 👍 pill gone');
    // Escape closes the picker and gives focus back to its button.
    await act(bob, 'I like books', 'Add reaction', { exact: true });
    await until(() => bob.page.getByRole('dialog', { name: 'Emoji picker' }).count(), 'bob\'s picker');
    await bob.page.keyboard.press('Escape');
    if (await bob.page.getByRole('dialog', { name: 'Emoji picker' }).count()) fail('Escape left the picker open');
    const label = await bob.page.evaluate(() => document.activeElement?.getAttribute('aria-label'));
    if (label !== 'Add reaction') fail(`focus went to ${label}`);
  });

  await run.story('pins: alice pins a message, a system line appears, the panel lists it', async () => {
    await act(alice, 'I like books', 'More actions');
    await alice.page.getByRole('menuitem', { name: 'Pin message' }).click();
    await until(() => bob.page.locator('.msg.system', { hasText: 'pinned' }).count(), 'bob sees the pin notice');
    await until(() => alice.page.locator('.msg.system', { hasText: 'alice pinned a message' }).count(), 'alice sees it');
    await bob.page.getByRole('button', { name: 'Pinned messages', exact: true }).click();
    const panel = bob.page.getByRole('dialog', { name: /Pinned messages/ });
    await until(() => panel.locator('.pin', { hasText: 'I like books' }).count(), 'the pin listed');
    if (await panel.getByRole('button', { name: /^Unpin/ }).count()) fail('bob (no manage_messages) is offered Unpin');
    await shot(bob, 'pins-light');
    await panel.getByRole('button', { name: /Jump to the message from alice/ }).click();
    await until(() => msg(bob, 'I like books').evaluate((el) => el.classList.contains('flash')), 'the pinned message flashes');
    // Bob may not pin (no manage_messages): the menu does not offer it.
    await act(bob, 'I like books', 'More actions');
    if (await bob.page.getByRole('menuitem', { name: /Pin/ }).count()) fail('bob is offered Pin');
    await bob.page.keyboard.press('Escape');
  });

  await run.story('delete: with confirmation, with Shift, and a reply whose original is gone', async () => {
    await send(alice, 'delete me politely');
    await send(alice, 'delete me quickly');
    await act(alice, 'delete me politely', 'Delete');
    const dlg = alice.page.getByRole('dialog', { name: 'Delete message' });
    await until(() => dlg.count(), 'the confirmation');
    if (!(await dlg.innerText()).includes('delete me politely')) fail('no preview in the confirmation');
    await shot(alice, 'delete-confirm-light');
    await dlg.getByRole('button', { name: 'Delete', exact: true }).click();
    await gone(bob, 'delete me politely');
    await act(alice, 'delete me quickly', 'Delete', { click: { modifiers: ['Shift'] } });
    await gone(bob, 'delete me quickly');
    if (await alice.page.getByRole('dialog', { name: 'Delete message' }).count()) fail('Shift did not skip the question');
    // Bob replies to a message that alice then deletes.
    await send(alice, 'ephemeral note');
    await act(bob, 'ephemeral note', 'Reply');
    await bob.page.locator('#composer').pressSequentially('answering that');
    await bob.page.locator('#composer').press('Enter');
    await sees(alice, 'answering that');
    await act(alice, 'ephemeral note', 'Delete', { click: { modifiers: ['Shift'] } });
    await until(() => bob.page.locator('.reply-line', { hasText: 'Original message was deleted' }).count(), 'bob sees "Original message was deleted"');
    // Bob may delete his own, not alice's.
    const row = msg(bob, 'I like books');
    await row.hover();
    if (await row.getByRole('button', { name: /^Delete/ }).count()) fail('bob is offered to delete alice\'s message');
  });

  await run.story('an embed sent through REST renders safely; a foreign image is not loaded', async () => {
    foreign.length = 0;
    await call(alice, 'POST', `/channels/${generalId}/messages`, {
      content: 'embed below',
      embeds: [{
        title: 'Hearth release notes',
        url: 'https://example.com/notes',
        description: 'Now with **reactions** <script>window.__pwned=true</script> and [a js link](javascript:window.__pwned=true)',
        color: 0x3fbf6f,
        timestamp: Date.now(),
        author: { name: 'The Hearth team', url: 'https://example.com', icon_url: 'https://tracker.invalid/author.png' },
        fields: [{ name: 'Version', value: '1.2', inline: true }, { name: 'Size', value: '9 MB', inline: true }],
        image: { url: 'https://tracker.invalid/pixel.png' },
        thumbnail: { url: `${BASE}/assets/icon.svg` },
        footer: { text: 'hearth.example' },
      }],
    });
    await sees(bob, 'embed below');
    const embed = msg(bob, 'embed below').locator('.embed');
    await until(() => embed.count(), 'the embed');
    const info = await embed.evaluate((el) => ({
      title: el.querySelector('.embed-title a')?.href,
      bold: el.querySelector('.embed-desc strong')?.textContent,
      scripts: el.querySelectorAll('script').length,
      jsLinks: [...el.querySelectorAll('a')].filter((a) => !/^https?:/.test(a.href)).length,
      imgs: [...el.querySelectorAll('img')].map((i) => i.src),
      text: el.innerText,
      border: getComputedStyle(el).borderLeftColor,
    }));
    if (info.title !== 'https://example.com/notes') fail(`title link ${info.title}`);
    if (info.bold !== 'reactions') fail('description Markdown not rendered');
    if (info.scripts || info.jsLinks) fail(`markup injected: ${JSON.stringify(info)}`);
    if (!info.text.includes('<script>')) fail('the script tag is not shown as text');
    if (info.imgs.some((s) => s.includes('tracker.invalid'))) fail(`a foreign image is loaded: ${info.imgs}`);
    if (!info.imgs.some((s) => s.startsWith(`${BASE}/assets/icon.svg`))) fail(`the same-origin thumbnail is missing: ${info.imgs}`);
    if (!info.text.includes('Version') || !info.text.includes('9 MB')) fail('fields missing');
    if (info.border !== 'rgb(63, 191, 111)') fail(`embed colour ${info.border}`);
    if (!(await embed.getByRole('link', { name: /Image \(tracker\.invalid/ }).count())) fail('the foreign image is not offered as a link');
    await sleep(300);
    if (foreign.length) fail(`requests to other origins: ${foreign}`);
    if (await bob.page.evaluate(() => window.__pwned === true)) fail('a script ran');
  });

  await run.story('copy a message link; opening it jumps to the message', async () => {
    await act(bob, 'hey @alice', 'More actions');
    await bob.page.getByRole('menuitem', { name: 'Copy message link' }).click();
    const link = await until(async () => {
      const t = await bob.page.evaluate(() => navigator.clipboard.readText());
      return t.includes('/channels/') ? t : null;
    }, 'the link on the clipboard');
    if (!new RegExp(`/channels/${guildId}/${generalId}/\\d+$`).test(link)) fail(`link ${link}`);
    await alice.page.goto(link);
    await until(() => msg(alice, 'hey @alice').evaluate((el) => el.classList.contains('flash')), 'the linked message flashes');
    await until(() => alice.page.url().endsWith(`/channels/${guildId}/${generalId}`), 'the plain channel URL kept');
  });

  await run.story('a reply to an old message loads history around it', async () => {
    const c = await call(alice, 'POST', `/guilds/${guildId}/channels`, { name: 'archive' });
    const original = await call(alice, 'POST', `/channels/${c.id}/messages`, { content: 'the very first post' });
    for (let i = 1; i <= 55; i += 1) await call(alice, 'POST', `/channels/${c.id}/messages`, { content: `filler ${i}.` });
    await call(bob, 'POST', `/channels/${c.id}/messages`, { content: 'answering the first post', message_reference: { message_id: original.id } });
    await alice.page.goto(`${BASE}/channels/${guildId}/${c.id}`);
    await sees(alice, 'answering the first post');
    if (await msg(alice, 'the very first post').count()) fail('the original was loaded already');
    await alice.page.locator('.group', { has: alice.page.locator('.msg-body', { hasText: 'answering the first post' }) })
      .getByRole('button', { name: /Jump to the original message/ }).click();
    await until(() => msg(alice, 'the very first post').count(), 'the original loaded');
    await until(() => msg(alice, 'the very first post').evaluate((el) => el.classList.contains('flash')), 'and flashed');
    const present = alice.page.getByRole('button', { name: 'Jump to present' });
    if (await present.isVisible()) {
      await present.click();
      await sees(alice, 'answering the first post');
    }
    await alice.page.goto(`${BASE}/channels/${guildId}/${generalId}`);
    await sees(alice, 'I like books');
  });

  await run.story('keyboard only: arrows through messages, Tab into the actions, react, reply, Escape', async () => {
    const k = alice.page.keyboard;
    await alice.page.locator('#composer').focus();
    await k.press('Shift+Tab');
    // Whatever precedes the box, the log itself is reachable: focus it and use the arrows.
    await alice.page.locator('.messages').focus();
    await k.press('ArrowUp');
    const focused = () => alice.page.evaluate(() => document.activeElement?.closest('.msg')?.querySelector('.msg-body')?.innerText || document.activeElement?.getAttribute('aria-label'));
    const last = await focused();
    if (!last) fail('ArrowUp did not focus a message');
    // Walk up to alice's "I like books" message.
    for (let i = 0; i < 15 && !(await focused())?.includes('I like books'); i += 1) await k.press('ArrowUp');
    if (!(await focused())?.includes('I like books')) fail(`arrows reached ${await focused()}`);
    const outline = await alice.page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    if (outline === 'none') fail('the focused message shows no focus');
    await k.press('Tab');
    const first = await alice.page.evaluate(() => document.activeElement?.getAttribute('aria-label'));
    if (first !== 'React with thumbs up sign') fail(`Tab reached ${first}`);
    await shot(alice, 'keyboard-actions-light');
    await k.press('Enter');
    await until(() => msg(bob, 'I like books').locator('.reaction', { hasText: '👍' }).count(), 'bob sees the keyboard reaction');
    // Shortcut R on a focused message replies.
    await alice.page.locator('.msg', { has: alice.page.locator('.msg-body', { hasText: 'I like books' }) }).focus();
    await k.press('r');
    await until(() => alice.page.evaluate(() => document.activeElement?.id === 'composer'), 'focus in the composer');
    await until(() => alice.page.locator('.reply-bar', { hasText: 'Replying to alice' }).count(), 'the reply bar');
    await k.type('replied from the keyboard');
    await k.press('Enter');
    await sees(bob, 'replied from the keyboard');
    // Escape from a message goes back to the box.
    await alice.page.locator('.messages').focus();
    await k.press('ArrowUp');
    await k.press('Escape');
    if (!(await alice.page.evaluate(() => document.activeElement?.id === 'composer'))) fail('Escape did not return to the composer');
  });

  await run.story('a paste over 4000 characters shows a counter and is refused, not cut', async () => {
    const box = alice.page.locator('#composer');
    const long = `${'long paste '.repeat(370)}end`; // 4073 characters
    await box.fill(long);
    const counter = alice.page.locator('#composer-count');
    await until(() => counter.isVisible(), 'the counter');
    if (!(await counter.innerText()).startsWith(`${[...long].length} / 4000`)) fail(`counter says ${await counter.innerText()}`);
    await box.press('Enter');
    await until(async () => /too long/.test(await alice.page.locator('#composer-error').innerText()), 'the refusal');
    if ((await box.inputValue()) !== long) fail('the text was changed');
    await sleep(300);
    if (await alice.page.locator('.msg.pending, .msg.failed').count()) fail('something was sent');
    if (await msg(bob, 'long paste long paste').count()) fail('bob got the long paste');
    await shot(alice, 'counter-light');
    await box.fill('short again');
    if (await counter.isVisible()) fail('the counter stays for short text');
    await box.fill('');
  });

  await run.story('roles: permissions have descriptions, unused ones are hidden, a mentionable role', async () => {
    await alice.page.getByRole('button', { name: 'Server settings' }).click();
    await alice.page.getByRole('tab', { name: 'Roles' }).click();
    await alice.page.getByRole('button', { name: 'Create role' }).click();
    await alice.page.getByLabel('Role name').fill('Bookworms');
    const manage = alice.page.getByLabel('Manage messages');
    const desc = await manage.evaluate((el) => document.getElementById(el.getAttribute('aria-describedby'))?.textContent);
    if (!/pin/i.test(desc || '')) fail(`no description for Manage messages: ${desc}`);
    for (const used of ['Add reactions', 'Mention @everyone', 'Embed links']) {
      if (!(await alice.page.getByLabel(used).count())) fail(`${used} is not offered`);
    }
    for (const unused of ['Attach files', 'View audit log', 'Manage webhooks']) {
      if (await alice.page.getByLabel(unused).count()) fail(`${unused} is offered but does nothing yet`);
    }
    await alice.page.getByLabel('Allow anyone to @mention this role').check();
    await alice.page.setViewportSize({ width: 1280, height: 1000 });
    await shot(alice, 'roles-light');
    await alice.page.setViewportSize({ width: 1280, height: 800 });
    await alice.page.getByRole('button', { name: 'Save role' }).click();
    await until(() => alice.page.getByRole('button', { name: 'Bookworms', exact: true }).count(), 'the saved role');
    const roles = await rest(alice, 'GET', `/guilds/${guildId}/roles`);
    const role = roles.find((r) => r.name === 'Bookworms');
    if (!role?.mentionable) fail(`role not mentionable: ${JSON.stringify(role)}`);
    await alice.page.keyboard.press('Escape');
    // Overwrites carry the descriptions too.
    await alice.page.getByRole('button', { name: 'Settings for general', exact: true }).click();
    await alice.page.getByRole('tab', { name: 'Permissions' }).click();
    await alice.page.getByLabel('Add an overwrite').selectOption({ label: '@everyone' });
    await alice.page.getByRole('button', { name: 'Add', exact: true }).click();
    const group = alice.page.getByRole('radiogroup', { name: 'Add reactions' });
    const gdesc = await group.evaluate((el) => document.getElementById(el.getAttribute('aria-describedby'))?.textContent);
    if (!gdesc) fail('no description in the overwrite editor');
    if (await alice.page.getByRole('radiogroup', { name: 'Attach files' }).count()) fail('Attach files offered in overwrites');
    await alice.page.keyboard.press('Escape');
    // Bob can now mention the role by picking it.
    const box = bob.page.locator('#composer');
    await box.click();
    await box.pressSequentially('calling @Bookw');
    await until(() => bob.page.locator('.autocomplete').getByRole('option', { name: /@Bookworms/ }).count(), 'the role suggestion');
    await box.press('Enter');
    await box.pressSequentially('now');
    await box.press('Enter');
    await sees(alice, 'calling @Bookworms now');
    if (!(await msg(alice, 'calling @Bookworms').locator('.mention.role').count())) fail('no role pill');
  });

  await run.story('screenshots: light, dark and phone; no sideways scrolling', async () => {
    await alice.page.goto(`${BASE}/channels/${guildId}/${generalId}`);
    await sees(alice, 'embed below');
    await msg(alice, 'I like books').hover();
    await shot(alice, 'desktop-light');
    await alice.page.emulateMedia({ colorScheme: 'dark' });
    await msg(alice, 'I like books').hover();
    await shot(alice, 'desktop-dark');
    await act(alice, 'I like books', 'Add reaction', { exact: true });
    await shot(alice, 'picker-dark');
    await alice.page.keyboard.press('Escape');
    await act(alice, 'embed below', 'Reply');
    await alice.page.locator('#composer').pressSequentially('@b');
    await shot(alice, 'reply-autocomplete-dark');
    await alice.page.locator('#composer').press('Escape');
    await alice.page.locator('#composer').press('Escape');
    await alice.page.locator('#composer').fill('');
    await bob.page.setViewportSize({ width: 390, height: 844 });
    await bob.page.emulateMedia({ colorScheme: 'dark' });
    await sleep(300);
    await msg(bob, 'I like books').click();
    await sleep(200);
    await shot(bob, 'phone-actions-dark');
    const wide = await bob.page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth
      || document.querySelector('.messages').scrollWidth > document.querySelector('.messages').clientWidth);
    if (wide) fail('horizontal scrolling at 390 px');
    await act(bob, 'I like books', 'Reply');
    await shot(bob, 'phone-reply-dark');
    await bob.page.locator('#composer').press('Escape');
    await bob.page.emulateMedia({ colorScheme: 'light' });
    await act(bob, 'I like books', 'Add reaction', { exact: true });
    await shot(bob, 'phone-picker-light');
    await bob.page.keyboard.press('Escape');
    await bob.page.getByRole('button', { name: 'Pinned messages', exact: true }).click();
    await sleep(300);
    await shot(bob, 'phone-pins-light');
    await bob.page.keyboard.press('Escape');
  });

  run.checkPages();
} catch (e) {
  exitCode = 1;
  await run.failed(e, [alice, bob], ARTIFACTS, 'messages-failure-');
} finally {
  await browser.close();
}
run.exit(exitCode);
