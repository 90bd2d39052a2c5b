// The REST API (docs/api.md): JSON over fetch with the bearer token.

let token = null;
let onUnauthorized = () => {};

/** An error answer from the server: `code` to branch on, `message` to show. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfterMs = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }
}

export function setToken(t) {
  token = t;
}

export function getToken() {
  return token;
}

/** Called when the server says the token is no longer valid. */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export async function request(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection and try again.');
  }
  if (res.status === 204) return null;
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const code = data?.code || 'internal';
    const message = data?.message || `The server answered ${res.status}.`;
    if (res.status === 401 && code === 'unauthorized' && token) onUnauthorized();
    throw new ApiError(res.status, code, message, data?.retry_after_ms ?? null);
  }
  return data;
}

export const get = (p) => request('GET', p);
export const post = (p, b) => request('POST', p, b);
export const patch = (p, b) => request('PATCH', p, b);
export const put = (p, b) => request('PUT', p, b);
export const del = (p) => request('DELETE', p);

/** History of a channel: oldest first (docs/api.md, Messages). */
export function history(channelId, { before, after, around, limit = 50 } = {}) {
  const q = new URLSearchParams({ limit: String(limit) });
  if (around) q.set('around', around);
  if (before) q.set('before', before);
  if (after) q.set('after', after);
  return get(`/channels/${channelId}/messages?${q}`);
}
