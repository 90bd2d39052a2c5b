// Message embeds (docs/api.md, Embed), rendered with DOM calls only: the
// description goes through the safe Markdown renderer, links must be
// http(s), and images are shown only from this server's own origin (the
// page's Content-Security-Policy allows no other image source, and loading
// one would tell a third party who reads the message). Any other image
// becomes a plain link.

import { h } from './dom.js';
import { render as renderMarkdown, safeUrl } from './markdown.js';

/** An http(s) URL, or null. */
function webUrl(raw) {
  const u = typeof raw === 'string' ? safeUrl(raw) : null;
  return u && /^https?:/.test(u) ? u : null;
}

/** A URL of this server (same origin), or null. */
export function sameOrigin(raw) {
  if (typeof raw !== 'string') return null;
  try {
    const u = new URL(raw, location.href);
    return u.origin === location.origin && /^https?:$/.test(u.protocol) ? u.href : null;
  } catch {
    return null;
  }
}

function extLink(href, text) {
  return h('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow ugc' }, text);
}

/** An image of the embed: <img> if same-origin, a link otherwise, nothing if unusable. */
function picture(url, alt, cls) {
  const own = sameOrigin(url);
  if (own) return h('img', { class: cls, src: own, alt, loading: 'lazy', referrerpolicy: 'no-referrer' });
  const href = webUrl(url);
  if (!href) return null;
  let host = '';
  try {
    host = new URL(href).host;
  } catch {
    host = '';
  }
  return h('p', { class: 'embed-ext-img' }, extLink(href, `${alt} (${host}, not loaded)`));
}

/** One embed as an <article>; `ctx` is the Markdown mention context. */
export function renderEmbed(e, ctx) {
  if (!e || typeof e !== 'object') return null;
  const box = h('article', { class: 'embed' });
  if (Number.isInteger(e.color) && e.color >= 0 && e.color <= 0xffffff) {
    box.style.setProperty('--embed-color', `#${e.color.toString(16).padStart(6, '0')}`);
  }
  const main = h('div', { class: 'embed-main' });
  if (e.author?.name) {
    const icon = sameOrigin(e.author.icon_url);
    const href = webUrl(e.author.url);
    main.append(h('p', { class: 'embed-author' },
      icon ? h('img', { class: 'embed-author-icon', src: icon, alt: '', referrerpolicy: 'no-referrer' }) : null,
      href ? extLink(href, e.author.name) : h('span', {}, e.author.name)));
  }
  if (e.title) {
    const href = webUrl(e.url);
    main.append(h('h4', { class: 'embed-title' }, href ? extLink(href, e.title) : e.title));
  }
  if (e.description) main.append(h('div', { class: 'embed-desc' }, renderMarkdown(String(e.description), ctx)));
  const fields = Array.isArray(e.fields) ? e.fields : [];
  if (fields.length) {
    main.append(h('dl', { class: 'embed-fields' }, fields.map((f) => h('div', { class: `embed-field${f.inline ? ' inline' : ''}` },
      h('dt', {}, String(f.name ?? '')), h('dd', {}, renderMarkdown(String(f.value ?? ''), ctx))))));
  }
  if (e.image?.url) main.append(picture(e.image.url, 'Image', 'embed-image'));
  const footer = [];
  if (e.footer?.text) {
    const icon = sameOrigin(e.footer.icon_url);
    if (icon) footer.push(h('img', { class: 'embed-footer-icon', src: icon, alt: '', referrerpolicy: 'no-referrer' }));
    footer.push(h('span', {}, e.footer.text));
  }
  if (Number.isFinite(e.timestamp)) {
    const d = new Date(e.timestamp);
    if (footer.length) footer.push(h('span', { 'aria-hidden': 'true' }, ' • '));
    footer.push(h('time', { datetime: d.toISOString() }, d.toLocaleString()));
  }
  if (footer.length) main.append(h('p', { class: 'embed-footer' }, footer));
  box.append(main);
  if (e.thumbnail?.url) box.append(picture(e.thumbnail.url, 'Thumbnail', 'embed-thumb'));
  return box;
}
