// api.js: every request the dashboard makes, through the platform's public
// JSON API on this origin, with the bearer token of this tab.

const TOKEN_KEY = 'iprs.token';

/** The bearer token kept for this tab ('' when none). */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

/** Keeps (or, with '', forgets) the bearer token for this tab. */
export function setToken(value) {
  const v = (value || '').trim();
  if (v) sessionStorage.setItem(TOKEN_KEY, v);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/**
 * A failed request: status is the HTTP status (0 when the server could not
 * be reached) and problem the RFC 9457 body {type, title, status, detail,
 * errors: [{pointer, parameter, detail}], request_id}.
 */
export class ApiError extends Error {
  constructor(status, problem, path) {
    super(`${status} ${problem.title || ''}: ${problem.detail || ''}`.trim());
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
    this.path = path;
  }

  /** True for the 404 of a route this server does not have (as opposed to an unknown id). */
  get noRoute() {
    return this.status === 404 && /^no route matches/i.test(this.problem.detail || '');
  }
}

/** encodes one path segment. */
export const seg = (s) => encodeURIComponent(s);

/** Builds path?query from an object, leaving out empty values. */
export function withQuery(path, query) {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

async function send(path, { method = 'GET', query, signal, accept = 'application/json', body } = {}) {
  const url = withQuery(path, query);
  const headers = { Accept: accept };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(url, {
      method, headers, signal, cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, {
      title: 'The server cannot be reached',
      detail: `${method} ${url}: ${err.message}`,
    }, url);
  }
  if (!res.ok) {
    let problem = { title: res.statusText || 'Request failed', status: res.status };
    const text = await res.text();
    try {
      const body = JSON.parse(text);
      if (body && typeof body === 'object') problem = { ...problem, ...body };
    } catch {
      if (text.trim()) problem.detail = text.trim().slice(0, 500);
    }
    if (typeof problem.status !== 'number') problem.status = res.status;
    throw new ApiError(res.status, problem, url);
  }
  return res;
}

/** GETs a JSON document. */
export async function get(path, opts = {}) {
  const res = await send(path, opts);
  return res.json();
}

/** POSTs body as JSON and returns the JSON answer. */
export async function post(path, body, opts = {}) {
  const res = await send(path, { ...opts, method: 'POST', body });
  return res.json();
}

/** GETs a file (such as a CSV export) as a Blob. */
export async function blob(path, opts = {}) {
  const res = await send(path, { ...opts, accept: '*/*' });
  return res.blob();
}

/** One page of a list route: {items, next}. */
export async function page(path, { query = {}, signal, limit = 100, cursor = '' } = {}) {
  const p = await get(path, { query: { ...query, limit, cursor }, signal });
  return { items: p.items || [], next: p.next_cursor || '' };
}

/** Resolves after ms, or rejects with an AbortError when signal aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new DOMException('aborted', 'AbortError'));
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new DOMException('aborted', 'AbortError'));
    }, { once: true });
  });
}

/** Whether a run status can no longer change by itself. */
export function finalStatus(status) {
  return status === 'COMPLETED' || status === 'FAILED' || status === 'CANCELLED' || status === 'PUBLISHED';
}

/**
 * Calls fn every interval ms until it returns true or signal aborts.
 * Errors from fn are passed to onError (when given) and polling goes on.
 */
export async function poll(fn, interval, signal, onError) {
  for (;;) {
    try {
      await sleep(interval, signal);
    } catch {
      return;
    }
    try {
      if (await fn()) return;
    } catch (err) {
      if (err.name === 'AbortError') return;
      if (onError) onError(err);
    }
  }
}

/** Runs fn over items with at most n calls in flight, keeping order. */
export async function mapLimit(items, n, fn) {
  const out = new Array(items.length);
  let i = 0;
  const lanes = Array.from({ length: Math.min(n, items.length) }, async () => {
    while (i < items.length) {
      const k = i++;
      out[k] = await fn(items[k], k);
    }
  });
  await Promise.all(lanes);
  return out;
}
