// The Markdown subset of messages, rendered straight into DOM nodes:
// **bold**, *italic* / _italic_, ~~strike~~, `code`, ```code blocks```,
// > quotes, [text](url) and bare links, and mentions (<@USER_ID>,
// <@&ROLE_ID>, <#CHANNEL_ID>, @everyone, @here). Text only
// ever becomes text nodes, and only http(s) and mailto links become links,
// so no message can produce markup, script or a javascript: URL.

import { h } from './dom.js';

const SAFE_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);

/** The URL if it is safe to link to, else null. */
export function safeUrl(raw) {
  try {
    const u = new URL(raw);
    return SAFE_PROTOCOLS.has(u.protocol) ? u.href : null;
  } catch {
    return null;
  }
}

// Inline rules, tried at each position; the earliest match wins, ties go to
// the earlier rule.
const RULES = [
  ['code', /`([^`\n]+)`/],
  ['mention', /<@!?(\d{1,20})>/],
  ['role', /<@&(\d{1,20})>/],
  ['channel', /<#(\d{1,20})>/],
  ['everyone', /(?<![\p{L}\p{N}_@])@(everyone|here)(?![\p{L}\p{N}_])/u],
  ['link', /\[([^\]\n]+)\]\(([^)\s]+)\)/],
  ['url', /(?:https?:\/\/|mailto:)[^\s<>]*[^\s<>.,;:!?)'"\]]/],
  ['bold', /\*\*([\s\S]+?)\*\*/],
  ['strike', /~~([\s\S]+?)~~/],
  ['italic', /\*([^*\s](?:[^*]*[^*\s])?)\*/],
  ['italic_', /(?<![\p{L}\p{N}_])_([^_\s](?:[^_]*[^_\s])?)_(?![\p{L}\p{N}_])/u],
];

/**
 * Render `text` inline. `ctx.mention(id)`, `ctx.role(id)`, `ctx.channel(id)`
 * and `ctx.everyone(word)` return the nodes for mentions (text if absent).
 * Depth-limited so hostile nesting cannot blow the stack.
 */
export function inline(text, ctx, depth = 0) {
  const out = [];
  let rest = text;
  while (rest) {
    let best = null;
    if (depth < 8) {
      for (const [kind, re] of RULES) {
        const m = re.exec(rest);
        if (m && (!best || m.index < best.m.index)) best = { kind, m };
      }
    }
    if (!best) {
      out.push(document.createTextNode(rest));
      break;
    }
    const { kind, m } = best;
    if (m.index > 0) out.push(document.createTextNode(rest.slice(0, m.index)));
    out.push(node(kind, m, ctx, depth));
    rest = rest.slice(m.index + m[0].length);
  }
  return out;
}

function node(kind, m, ctx, depth) {
  switch (kind) {
    case 'code':
      return h('code', { class: 'md-code' }, m[1]);
    case 'mention':
      return ctx.mention ? ctx.mention(m[1]) : document.createTextNode(m[0]);
    case 'role':
      return ctx.role ? ctx.role(m[1]) : document.createTextNode(m[0]);
    case 'channel':
      return ctx.channel ? ctx.channel(m[1]) : document.createTextNode(m[0]);
    case 'everyone':
      return ctx.everyone ? ctx.everyone(m[1]) : document.createTextNode(m[0]);
    case 'link': {
      const href = safeUrl(m[2]);
      if (!href) return document.createTextNode(m[0]);
      return link(href, inline(m[1], ctx, depth + 1));
    }
    case 'url': {
      const href = safeUrl(m[0]);
      return href ? link(href, [m[0]]) : document.createTextNode(m[0]);
    }
    case 'bold':
      return h('strong', {}, inline(m[1], ctx, depth + 1));
    case 'strike':
      return h('s', {}, inline(m[1], ctx, depth + 1));
    default:
      return h('em', {}, inline(m[1], ctx, depth + 1));
  }
}

function link(href, children) {
  return h('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow ugc' }, children);
}

/** Render a whole message: code blocks and quotes, then inline rules. */
export function render(content, ctx) {
  const frag = document.createDocumentFragment();
  const parts = content.split(/```/);
  parts.forEach((part, i) => {
    // Odd parts are inside a fence, unless the last fence is unclosed.
    const fenced = i % 2 === 1 && i < parts.length - 1;
    if (fenced) {
      // An optional language tag on the first line is dropped.
      const code = part.replace(/^[\w+-]*\n/, '');
      frag.append(h('pre', { class: 'md-pre' }, h('code', {}, code.replace(/\n$/, ''))));
    } else {
      const text = i % 2 === 1 ? '```' + part : part;
      blocks(text, ctx).forEach((n) => frag.append(n));
    }
  });
  return frag;
}

function blocks(text, ctx) {
  const out = [];
  const lines = text.split('\n');
  let para = [];
  let quote = [];
  const flushPara = () => {
    if (para.length) out.push(h('p', {}, join(para, ctx)));
    para = [];
  };
  const flushQuote = () => {
    if (quote.length) out.push(h('blockquote', {}, join(quote, ctx)));
    quote = [];
  };
  for (const line of lines) {
    const q = /^>\s?(.*)$/.exec(line);
    if (q) {
      flushPara();
      quote.push(q[1]);
    } else {
      flushQuote();
      para.push(line);
    }
  }
  flushPara();
  flushQuote();
  // Leading/trailing empty paragraphs come from text around code fences.
  return out.filter((n) => n.textContent.trim() !== '' || n.querySelector('*'));
}

function join(lines, ctx) {
  const out = [];
  lines.forEach((l, i) => {
    if (i > 0) out.push(h('br'));
    out.push(...inline(l, ctx));
  });
  return out;
}
