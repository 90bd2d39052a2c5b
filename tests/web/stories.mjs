// Browser stories for the embedded web client, in real headless Chromium.
// Run by tests/web.rs:  node stories.mjs <server URL> <artifact dir>
// Each story is a step of one continuous scenario between two people,
// alice and bob, in two separate browser contexts.

import { join } from 'node:path';
import { Run, cliArgs, fail, fillRegistration, launch, newPerson, rest, until } from './harness.mjs';

const { base: BASE, artifacts: ARTIFACTS } = cliArgs('stories.mjs');
const run = new Run('web stories');
const browser = await launch();

// playwright-core gives every context its own fresh profile (a new
// --user-data-dir); nothing is shared between alice and bob.

const person = (name, viewport) => newPerson(browser, run, name, viewport);
const register = fillRegistration;
const pwned = (p) => p.page.evaluate(() => window.__pwned === true || document.title.includes('pwned'));

async function send(p, text) {
  const box = p.page.locator('#composer');
  await box.click();
  // Shift+Enter makes a new line; Enter sends.
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    if (i > 0) await box.press('Shift+Enter');
    await box.pressSequentially(lines[i], { delay: 0 });
  }
  await box.press('Enter');
}

const bodies = (p) => p.page.locator('.messages .msg-body').allInnerTexts();

async function seesMessage(p, text, timeout) {
  return until(async () => (await bodies(p)).some((b) => b.includes(text)), `${p.name} to see "${text}"`, timeout);
}

async function countOf(p, text) {
  return (await bodies(p)).filter((b) => b.includes(text)).length;
}

let inviteUrl;
let guildUrl;
const alice = await person('alice');
const bob = await person('bob');

// Bob's gateway goes through a route we can cut, to simulate network drops.
const net = { sockets: [], blocked: false, resumes: 0 };
await bob.context.routeWebSocket(/\/gateway/, (ws) => {
  if (net.blocked) {
    ws.close({ code: 4000, reason: 'network down (test)' });
    return;
  }
  const server = ws.connectToServer();
  // Count RESUMEs (op 6) the page sends; with a handler set, forwarding is ours to do.
  ws.onMessage((m) => {
    if (typeof m === 'string' && /"op"\s*:\s*6\b/.test(m)) net.resumes += 1;
    server.send(m);
  });
  net.sockets.push(ws);
});

let exitCode = 0;
try {
  await run.story('the client is served with a strict Content-Security-Policy', async () => {
    const res = await alice.page.goto(`${BASE}/`);
    const csp = res.headers()['content-security-policy'] || '';
    for (const part of ["script-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"]) {
      if (!csp.includes(part)) fail(`CSP lacks ${part}: ${csp}`);
    }
    if (csp.includes('unsafe-inline') || csp.includes('unsafe-eval')) fail(`CSP allows unsafe sources: ${csp}`);
    if (res.headers()['x-content-type-options'] !== 'nosniff') fail('no nosniff');
    await until(() => alice.page.url().endsWith('/login'), 'redirect to /login');
  });

  await run.story('alice signs up and creates a guild with an invite link', async () => {
    await alice.page.getByRole('link', { name: 'Create an account' }).click();
    await register(alice, 'alice');
    await alice.page.getByRole('button', { name: 'Create or join a server' }).click();
    await alice.page.getByLabel('Server name').fill('Book Club');
    await alice.page.getByRole('button', { name: 'Create server' }).click();
    await until(() => alice.page.url().match(/\/channels\/\d+\/\d+$/), 'the new guild to open');
    guildUrl = alice.page.url();
    await until(() => alice.page.getByRole('heading', { name: 'general' }).count(), '#general heading');
    await until(() => alice.page.locator('.chan[data-kind=voice]').count(), 'the voice channel to be listed');
    await alice.page.getByRole('button', { name: 'Invite people' }).click();
    inviteUrl = await until(async () => {
      const v = await alice.page.locator('#invite-link').inputValue().catch(() => '');
      return v.includes('/invite/') ? v : null;
    }, 'an invite link');
    await alice.page.keyboard.press('Escape');
  });

  await run.story('bob opens the invite link, signs up and joins', async () => {
    await bob.page.goto(inviteUrl);
    await until(() => bob.page.url().endsWith('/login'), 'bob sent to log in');
    await until(() => bob.page.getByText('accept your invite').count(), 'the invite notice');
    await bob.page.getByRole('link', { name: 'Create an account' }).click();
    await register(bob, 'bob');
    const join = bob.page.getByRole('button', { name: 'Join Book Club' });
    await join.waitFor();
    await join.click();
    await until(() => bob.page.url() === guildUrl, `bob in the guild (${bob.page.url()})`);
  });

  await run.story('both see each other online in the member list', async () => {
    await until(() => alice.page.getByRole('button', { name: 'bob, Online' }).count(), 'alice sees bob online');
    await until(() => bob.page.getByRole('button', { name: 'alice, Online' }).count(), 'bob sees alice online');
  });

  await run.story('they chat both ways, with typing, Markdown and mentions', async () => {
    await alice.page.locator('#composer').click();
    await alice.page.locator('#composer').pressSequentially('hel');
    await until(async () => (await bob.page.locator('.typing').innerText()).includes('alice is typing'), 'bob sees alice typing');
    await alice.page.locator('#composer').fill('');
    await send(alice, 'hello **bob**, welcome to the _club_');
    await seesMessage(bob, 'hello bob, welcome to the club');
    if (!(await bob.page.locator('.msg-body strong', { hasText: 'bob' }).count())) fail('bold not rendered');
    if (!(await bob.page.locator('.msg-body em', { hasText: 'club' }).count())) fail('italic not rendered');
    await until(async () => !(await bob.page.locator('.typing').innerText()).includes('alice'), 'typing cleared by the message');
    await send(bob, 'thanks @alice!\nsecond line with `code`');
    await seesMessage(alice, 'thanks @alice!');
    const mention = alice.page.locator('.msg.mentions-me .mention.me', { hasText: '@alice' });
    await until(() => mention.count(), 'alice sees her mention highlighted');
    if (!(await alice.page.locator('.msg-body br').count())) fail('Shift+Enter line break missing');
    if (!(await alice.page.locator('.msg-body code', { hasText: 'code' }).count())) fail('inline code not rendered');
    // The sender's own copy is confirmed (no longer pending).
    await until(async () => !(await bob.page.locator('.msg.pending').count()), 'bob\'s message confirmed');
    // Grouping: bob's second message joins alice's? No: different authors make two groups.
    const groups = await alice.page.locator('.group').count();
    if (groups < 2) fail(`expected two author groups, got ${groups}`);
  });

  await run.story('hostile messages stay inert text', async () => {
    const hostile = [
      '<script>window.__pwned = true</script>',
      '<img src=x onerror="window.__pwned = true">',
      '[click me](javascript:window.__pwned=true)',
      'javascript:window.__pwned=true',
      '<a href="javascript:window.__pwned=true">link</a> <svg onload="window.__pwned=true">',
    ];
    for (const text of hostile) await send(alice, text);
    await seesMessage(bob, '<svg onload="window.__pwned=true">');
    for (const text of ['<script>window.__pwned = true</script>', '<img src=x onerror="window.__pwned = true">']) {
      if ((await countOf(bob, text)) !== 1) fail(`not shown literally: ${text}`);
    }
    const injected = await bob.page.evaluate(() => ({
      scripts: document.querySelectorAll('.messages script').length,
      imgs: document.querySelectorAll('.messages img').length,
      // Only message text (the action bars draw their icons as SVG).
      svgs: document.querySelectorAll('.messages .msg-body svg').length,
      jsLinks: [...document.querySelectorAll('.messages a')].filter((a) => !/^(https?|mailto):/.test(a.href)).length,
    }));
    if (injected.scripts || injected.imgs || injected.svgs || injected.jsLinks) fail(`markup injected: ${JSON.stringify(injected)}`);
    await bob.page.getByText('[click me](javascript:window.__pwned=true)').click();
    await new Promise((r) => setTimeout(r, 300));
    if ((await pwned(bob)) || (await pwned(alice))) fail('a script ran');
  });

  await run.story('bob opens a DM with alice from the member list', async () => {
    await bob.page.getByRole('button', { name: 'alice, Online' }).click();
    await bob.page.getByRole('button', { name: 'Message alice' }).click();
    await until(() => bob.page.url().includes('/channels/@me/'), 'the DM to open');
    await send(bob, 'psst, a secret');
    // Alice is elsewhere: the DM shows as unread on her home button.
    await until(() => alice.page.getByRole('link', { name: /Direct messages, 1 mention/ }).count(), 'alice sees the DM badge');
    await alice.page.getByRole('link', { name: /Direct messages/ }).click();
    await alice.page.locator('.chan.dm', { hasText: 'bob' }).click();
    await seesMessage(alice, 'psst, a secret');
    await send(alice, 'tell me');
    await seesMessage(bob, 'tell me');
    // Only friends add each other to group DMs (the default): they befriend first.
    const me = async (p) => (await rest(p, 'GET', '/users/@me')).id;
    const [aliceId, bobId] = [await me(alice), await me(bob)];
    await rest(alice, 'PUT', `/users/@me/relationships/${bobId}`, { type: 'friend' });
    await rest(bob, 'PUT', `/users/@me/relationships/${aliceId}`, { type: 'friend', accept: true });
    // A named group DM, started from the DM list.
    await alice.page.getByRole('button', { name: 'New group message' }).click();
    await alice.page.getByRole('checkbox', { name: /^bob/ }).check();
    await alice.page.getByLabel('Group name (optional)').fill('Weekend plans');
    await alice.page.getByRole('button', { name: 'Create', exact: true }).click();
    await until(() => alice.page.getByRole('heading', { name: 'Weekend plans' }).count(), 'the group DM open');
    await send(alice, 'group hello');
    await until(() => bob.page.locator('.chan.dm', { hasText: 'Weekend plans' }).count(), 'bob sees the group DM');
    await bob.page.locator('.chan.dm', { hasText: 'Weekend plans' }).click();
    await seesMessage(bob, 'group hello');
    await alice.page.locator('.chan.dm', { hasText: /^B?bob/ }).first().click();
    await seesMessage(alice, 'psst, a secret');
  });

  await run.story('a reload keeps the session and the place', async () => {
    const before = alice.page.url();
    await alice.page.reload();
    await seesMessage(alice, 'psst, a secret');
    if (alice.page.url() !== before) fail(`moved to ${alice.page.url()}`);
    if (await alice.page.locator('#composer').isDisabled()) fail('composer disabled after reload');
    // Back to the guild for the next stories.
    await alice.page.goto(guildUrl);
    await seesMessage(alice, 'welcome to the');
  });

  await run.story('a dropped connection resumes without duplicates', async () => {
    await bob.page.goto(guildUrl);
    await seesMessage(bob, 'welcome to the');
    await until(() => bob.page.evaluate(() => !document.querySelector('.conn.on')), 'bob connected');
    // 4009 leaves the server-side session resumable (4000 would end it), as a real drop does.
    const resumesBefore = net.resumes;
    net.sockets.splice(0).forEach((ws) => ws.close({ code: 4009, reason: 'network drop (test)' }));
    await until(() => bob.page.locator('.conn.on', { hasText: 'Reconnecting' }).count(), 'bob sees "reconnecting"', 3000);
    await send(alice, 'while you were away 1');
    await send(alice, 'while you were away 2');
    await until(() => bob.page.evaluate(() => !document.querySelector('.conn.on')), 'bob reconnected');
    await seesMessage(bob, 'while you were away 2');
    if (net.resumes <= resumesBefore) fail('the client did not RESUME after the drop');
    for (const t of ['while you were away 1', 'while you were away 2', 'hello bob']) {
      const n = await countOf(bob, t);
      if (n !== 1) fail(`"${t}" shown ${n} times`);
    }
  });

  await run.story('a long outage re-identifies, fills the gap from history, and retries a failed send', async () => {
    net.blocked = true;
    net.sockets.splice(0).forEach((ws) => ws.close({ code: 4000, reason: 'network drop (test)' }));
    await until(() => bob.page.locator('.conn.on').count(), 'bob sees "reconnecting"', 3000);
    await send(bob, 'sent while offline');
    await until(() => bob.page.locator('.msg.failed', { hasText: 'sent while offline' }).count(), 'the offline send marked failed');
    await send(alice, 'gap message A');
    await send(alice, 'gap message B');
    // Longer than the server's resume grace (tests/web.rs starts it with 2 s).
    await new Promise((r) => setTimeout(r, 3500));
    net.blocked = false;
    await until(() => bob.page.evaluate(() => !document.querySelector('.conn.on')), 'bob reconnected', 20000);
    await seesMessage(bob, 'gap message B');
    await bob.page.locator('.msg.failed', { hasText: 'sent while offline' }).getByRole('button', { name: 'Retry' }).click();
    await seesMessage(alice, 'sent while offline');
    await until(async () => !(await bob.page.locator('.msg.failed, .msg.pending').count()), 'the retried send confirmed');
    for (const t of ['gap message A', 'gap message B', 'while you were away 1', 'sent while offline']) {
      const n = await countOf(bob, t);
      if (n !== 1) fail(`"${t}" shown ${n} times after re-identify`);
    }
  });

  let historyUrl;
  await run.story('history loads as you scroll up, each message once', async () => {
    const gid = guildUrl.split('/')[4];
    // Sixty messages written straight through REST, as another client would.
    const channelId = await alice.page.evaluate(async (guild) => {
      const token = localStorage.getItem('hearth.token');
      const call = async (method, path, body) => {
        const r = await fetch(`/api/v1${path}`, {
          method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
        });
        if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
        return r.json();
      };
      const c = await call('POST', `/guilds/${guild}/channels`, { name: 'history' });
      for (let i = 1; i <= 60; i += 1) {
        for (;;) {
          try {
            await call('POST', `/channels/${c.id}/messages`, { content: `old message ${i}.` });
            break;
          } catch (e) {
            if (!String(e).includes('429')) throw e;
            await new Promise((r) => setTimeout(r, 200));
          }
        }
      }
      return c.id;
    }, gid);
    historyUrl = `${BASE}/channels/${gid}/${channelId}`;
    await bob.page.goto(historyUrl);
    await seesMessage(bob, 'old message 60.');
    if ((await countOf(bob, 'old message 1.')) !== 0) fail('the oldest message was loaded before scrolling');
    await until(async () => {
      await bob.page.locator('.messages').evaluate((el) => { el.scrollTop = 0; });
      return (await countOf(bob, 'old message 1.')) === 1;
    }, 'older history after scrolling up');
    await until(() => bob.page.getByRole('heading', { name: 'Welcome to #history' }).count(), 'the start of the channel');
    for (const i of [1, 10, 11, 50, 60]) {
      const n = await countOf(bob, `old message ${i}.`);
      if (n !== 1) fail(`"old message ${i}." shown ${n} times`);
    }
  });

  await run.story('roles and channel overwrites from the settings, with the server\'s refusals shown', async () => {
    await alice.page.goto(historyUrl);
    await seesMessage(alice, 'old message 60.');
    await alice.page.getByRole('button', { name: 'Server settings' }).click();
    await alice.page.getByRole('tab', { name: 'Roles' }).click();
    await alice.page.getByRole('button', { name: 'Create role' }).click();
    await alice.page.getByLabel('Role name').fill('Moderators');
    await alice.page.getByLabel('Manage messages').check();
    await alice.page.getByLabel('Colour', { exact: true }).fill('#1f8b4c');
    await alice.page.getByLabel(/^No colour/).uncheck();
    await alice.page.getByRole('button', { name: 'Save role' }).click();
    await until(() => alice.page.getByRole('button', { name: 'Moderators', exact: true }).count(), 'the saved role');
    // A name of only spaces passes the form but not the server: its message shows.
    await alice.page.getByLabel('Role name').fill('   ');
    await alice.page.getByRole('button', { name: 'Save role' }).click();
    await until(async () => /name/i.test(await alice.page.locator('dialog .form-error:not(:empty)').first().innerText()), 'the server\'s refusal');
    await alice.page.keyboard.press('Escape');
    // Give bob the role from his member card.
    await alice.page.getByRole('button', { name: 'bob, Online' }).click();
    await alice.page.getByRole('checkbox', { name: 'Moderators' }).check();
    await until(() => alice.page.evaluate(() => !document.querySelector('dialog .form-error:not(:empty)')), 'no error');
    await alice.page.keyboard.press('Escape');
    // Nobody but the owner may send in #history any more.
    if (await bob.page.locator('#composer').isDisabled()) fail('bob cannot send before the overwrite');
    await alice.page.getByRole('button', { name: 'Settings for history' }).click();
    await alice.page.getByRole('tab', { name: 'Permissions' }).click();
    await alice.page.getByLabel('Add an overwrite').selectOption({ label: '@everyone' });
    await alice.page.getByRole('button', { name: 'Add', exact: true }).click();
    await alice.page.getByRole('radiogroup', { name: 'Send messages' }).getByLabel('Deny').check();
    await alice.page.getByRole('button', { name: 'Add overwrite' }).click();
    await until(() => alice.page.getByRole('button', { name: 'Remove overwrite' }).count(), 'the saved overwrite');
    await alice.page.keyboard.press('Escape');
    await until(() => bob.page.locator('#composer').isDisabled(), 'bob\'s composer disabled by the overwrite');
    if (await alice.page.locator('#composer').isDisabled()) fail('the owner lost send');
    await bob.page.goto(guildUrl);
    await seesMessage(bob, 'welcome to the');
  });

  await run.story('keyboard only: log in, skip to the message box, send', async () => {
    const kbd = await person('alice-keyboard');
    try {
      await kbd.page.goto(`${BASE}/login`);
      const k = kbd.page.keyboard;
      await until(() => kbd.page.evaluate(() => document.activeElement?.name === 'username'), 'focus in the username field');
      await k.type('alice');
      await k.press('Tab');
      await k.type('correct horse battery');
      await k.press('Enter');
      await until(() => kbd.page.locator('.me-name').count(), 'logged in');
      await kbd.page.goto(guildUrl);
      await seesMessage(kbd, 'welcome to the');
      await kbd.page.evaluate(() => document.activeElement?.blur());
      await k.press('Tab');
      const first = await kbd.page.evaluate(() => {
        const el = document.activeElement;
        return { text: el?.textContent, outline: getComputedStyle(el).outlineStyle };
      });
      if (first.text !== 'Skip to message box') fail(`first Tab reached ${first.text}`);
      if (first.outline === 'none') fail('focus is not visible');
      await k.press('Enter');
      await until(() => kbd.page.evaluate(() => document.activeElement?.id === 'composer'), 'focus in the composer');
      await k.type('typed without a mouse');
      await k.press('Enter');
      await seesMessage(bob, 'typed without a mouse');
    } finally {
      await kbd.context.close();
    }
  });

  await run.story('screenshots at 1280×800 and 390×844, no horizontal scrolling', async () => {
    await alice.page.goto(guildUrl);
    await seesMessage(alice, 'typed without a mouse');
    await alice.page.screenshot({ path: join(ARTIFACTS, 'desktop-1280x800-light.png') });
    await alice.page.emulateMedia({ colorScheme: 'dark' });
    await alice.page.screenshot({ path: join(ARTIFACTS, 'desktop-1280x800-dark.png') });
    await bob.page.setViewportSize({ width: 390, height: 844 });
    await bob.page.emulateMedia({ colorScheme: 'dark' });
    await new Promise((r) => setTimeout(r, 300));
    await bob.page.screenshot({ path: join(ARTIFACTS, 'phone-390x844-chat.png') });
    const wide = await bob.page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth
      || document.querySelector('.messages').scrollWidth > document.querySelector('.messages').clientWidth);
    if (wide) fail('horizontal scrolling at 390 px');
    await bob.page.getByRole('button', { name: 'Show channels' }).click();
    await new Promise((r) => setTimeout(r, 300));
    await bob.page.screenshot({ path: join(ARTIFACTS, 'phone-390x844-channels.png') });
    await bob.page.getByRole('link', { name: 'general', exact: true }).click();
    await bob.page.getByRole('button', { name: 'Show members' }).click();
    await new Promise((r) => setTimeout(r, 300));
    await bob.page.screenshot({ path: join(ARTIFACTS, 'phone-390x844-members.png') });
    await alice.page.emulateMedia({ colorScheme: 'light' });
    await alice.page.getByRole('button', { name: 'Server settings' }).click();
    await alice.page.getByRole('tab', { name: 'Roles' }).click();
    await alice.page.screenshot({ path: join(ARTIFACTS, 'desktop-1280x800-roles.png') });
    await alice.page.keyboard.press('Escape');
  });

  await run.story('log out forgets the session, also after a reload', async () => {
    await alice.page.getByRole('button', { name: 'Log out' }).click();
    await until(() => alice.page.url().endsWith('/login'), 'the log-in page');
    if (await alice.page.evaluate(() => localStorage.getItem('hearth.token'))) fail('token kept');
    await alice.page.reload();
    await until(() => alice.page.getByRole('button', { name: 'Log in' }).count(), 'still logged out');
    await until(() => bob.page.getByRole('button', { name: 'alice, Offline' }).count(), 'bob sees alice go offline');
  });

  run.checkPages();
  if ((await pwned(alice)) || (await pwned(bob))) fail('an injected script ran');
} catch (e) {
  exitCode = 1;
  await run.failed(e, [alice, bob], ARTIFACTS, 'failure-');
} finally {
  await browser.close();
}
run.exit(exitCode);
