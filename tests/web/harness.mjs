// Shared by the browser story scripts (stories.mjs, voice.mjs): arguments,
// Chromium launch, polling, story bookkeeping, and the watch on every page
// for script errors, CSP violations and dialogs (each fails the run).

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** `node SCRIPT <server URL> <artifact dir>`: the two arguments, checked. */
export function cliArgs(script) {
  const base = process.argv[2];
  const artifacts = process.argv[3] || 'web-artifacts';
  if (!base) {
    console.error(`usage: node ${script} <server URL> <artifact dir>`);
    process.exit(2);
  }
  mkdirSync(artifacts, { recursive: true });
  return { base, artifacts };
}

/** Chromium flags for this closed-network machine (see docs/web-client.md). */
const BASE_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Debian's Chromium, headless, with `extraFlags`. Every context gets a fresh profile. */
export function launch(extraFlags = []) {
  return chromium.launch({
    executablePath: process.env.HEARTH_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [...BASE_FLAGS, ...extraFlags],
  });
}

export function fail(msg) {
  throw new Error(msg);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll `fn` until it returns something truthy. */
export async function until(fn, what, timeout = 10000) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) fail(`timed out waiting for ${what} (last: ${JSON.stringify(last) ?? last})`);
    await sleep(100);
  }
}

/** One run of named stories, and the problems seen in its pages. */
export class Run {
  constructor(label) {
    this.label = label;
    this.results = [];
    this.problems = [];
  }

  async story(name, fn) {
    const t0 = Date.now();
    try {
      await fn();
      this.results.push([name, true]);
      console.log(`ok    ${name} (${Date.now() - t0} ms)`);
    } catch (e) {
      this.results.push([name, false]);
      console.log(`FAIL  ${name}: ${e.stack || e}`);
      throw e;
    }
  }

  /** Record page errors, CSP violations and any dialog of `page` (named `name`). */
  watch(page, name) {
    page.on('pageerror', (e) => this.problems.push(`${name}: page error: ${e.message}`));
    page.on('console', (m) => {
      const text = m.text();
      if (m.type() === 'error' && /Content Security Policy|Refused to/.test(text)) this.problems.push(`${name}: ${text}`);
    });
    page.on('dialog', async (d) => {
      this.problems.push(`${name}: unexpected ${d.type()} dialog: ${d.message()}`);
      await d.dismiss();
    });
  }

  /** Fail if any page had a problem. */
  checkPages() {
    if (this.problems.length) fail(`problems in the pages:\n  ${this.problems.join('\n  ')}`);
  }

  /** After a failure: report it once, screenshot every person as `${prefix}${name}.png`. */
  async failed(e, people, artifacts, prefix) {
    if (!this.results.some(([, ok]) => !ok)) console.log(`FAIL  ${e.stack || e}`);
    for (const p of people.filter(Boolean)) {
      await p.page.screenshot({ path: join(artifacts, `${prefix}${p.name}.png`) }).catch(() => {});
    }
    if (this.problems.length) console.log(`page problems:\n  ${this.problems.join('\n  ')}`);
  }

  /** Print the tally and exit with `code`. */
  exit(code) {
    const passed = this.results.filter(([, ok]) => ok).length;
    console.log(`${this.label}: ${passed} passed, ${this.results.length - passed} failed`);
    process.exit(code);
  }
}

/** One person: a fresh browser context (its own profile) and page, watched by `run`. */
export async function newPerson(browser, run, name, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport, colorScheme: 'light' });
  const page = await context.newPage();
  run.watch(page, name);
  return { name, context, page };
}

/** Create an account through the registration form already on the page. */
export async function fillRegistration(p, username) {
  await p.page.getByLabel('Username').fill(username);
  await p.page.getByLabel('Password').fill('correct horse battery');
  await p.page.getByRole('button', { name: 'Create account' }).click();
  await until(() => p.page.locator('.me-name').count(), `${username} logged in`);
}

/** A REST call from the page with its own token (setup the UI is not under test for). */
export function rest(p, method, path, body) {
  return p.page.evaluate(async ([m, url, b]) => {
    const res = await fetch(`/api/v1${url}`, {
      method: m,
      headers: { Authorization: `Bearer ${localStorage.getItem('hearth.token')}`, 'Content-Type': 'application/json' },
      body: b === undefined ? undefined : JSON.stringify(b),
    });
    return res.status === 204 ? null : res.json();
  }, [method, path, body]);
}
