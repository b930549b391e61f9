// app.js: the dashboard's shell — the route table, the token field and the
// page lifecycle. A page is a module exporting render(main, ctx); ctx has
// params (decoded path parts), query (URLSearchParams), signal (aborted
// when the analyst leaves the page: stop polling there) and go(hash).

import { get, setToken, token } from './api.js';
import { h, problemBox, replace } from './render.js';
import * as runs from './pages/runs.js';
import * as run from './pages/run.js';
import * as cube from './pages/cube.js';
import * as group from './pages/group.js';
import * as position from './pages/position.js';
import * as markets from './pages/markets.js';
import * as market from './pages/market.js';
import * as books from './pages/books.js';
import * as book from './pages/book.js';
import * as valueAtRisk from './pages/var.js';
import * as compare from './pages/compare.js';
import * as explains from './pages/explains.js';
import * as explain from './pages/explain.js';

// [path pattern, page module, nav section]. Add a page here.
const routes = [
  [/^\/runs$/, runs, 'runs'],
  [/^\/runs\/([^/]+)$/, run, 'runs'],
  [/^\/runs\/([^/]+)\/cube$/, cube, 'runs'],
  [/^\/runs\/([^/]+)\/group$/, group, 'runs'],
  [/^\/runs\/([^/]+)\/var$/, valueAtRisk, 'runs'],
  [/^\/runs\/([^/]+)\/positions\/([^/]+)$/, position, 'runs'],
  [/^\/compare$/, compare, 'runs'],
  [/^\/explains$/, explains, 'explains'],
  [/^\/explains\/([^/]+)$/, explain, 'explains'],
  [/^\/market$/, markets, 'market'],
  [/^\/market\/([^/]+)$/, market, 'market'],
  [/^\/books$/, books, 'books'],
  [/^\/books\/([^/]+)$/, book, 'books'],
];

const main = document.getElementById('main');
let current = null;

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/runs';
  const i = raw.indexOf('?');
  return { path: i < 0 ? raw : raw.slice(0, i), query: new URLSearchParams(i < 0 ? '' : raw.slice(i + 1)) };
}

function go(hash) {
  if (location.hash === hash) show();
  else location.hash = hash;
}

async function show() {
  if (current) current.abort();
  const ctl = new AbortController();
  current = ctl;
  delete main.dataset.ready;
  const { path, query } = parseHash();
  let match = null;
  for (const [re, page, section] of routes) {
    const m = re.exec(path);
    if (m) {
      match = { page, section, params: m.slice(1).map(decodeURIComponent) };
      break;
    }
  }
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', !!match && a.dataset.section === match.section);
  }
  if (!match) {
    replace(main, h('div', { class: 'notice' }, 'No such page. ', h('a', { href: '#/runs' }, 'Go to the runs.')));
    main.dataset.ready = path;
    return;
  }
  replace(main, h('p', { class: 'loading' }, 'Loading…'));
  document.title = 'IPRS';
  try {
    await match.page.render(main, { params: match.params, query, signal: ctl.signal, go });
  } catch (err) {
    if (err?.name === 'AbortError' || ctl.signal.aborted) return;
    replace(main, problemBox(err));
  }
  if (!ctl.signal.aborted) main.dataset.ready = path;
}

function showTokenState() {
  const state = document.getElementById('token-state');
  const set = !!token();
  state.textContent = set ? 'token set' : 'no token';
  state.classList.toggle('set', set);
}

function setupToken() {
  const form = document.getElementById('token-form');
  const input = document.getElementById('token');
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    setToken(input.value);
    input.value = '';
    showTokenState();
    show();
  });
  document.getElementById('token-clear').addEventListener('click', () => {
    setToken('');
    input.value = '';
    showTokenState();
    show();
  });
  showTokenState();
}

async function footer() {
  const el = document.getElementById('footer');
  try {
    const health = await get('/results/health');
    el.textContent = `IPRS ${health.version || ''} · results service ${health.status || ''}`;
  } catch {
    el.textContent = 'IPRS';
  }
}

window.addEventListener('hashchange', show);
setupToken();
footer();
show();
