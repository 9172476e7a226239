/* The web chat page: a long poll for the conversation's events, a few JSON POSTs.
   No framework, no build step, no request to any other origin. */
(() => {
'use strict';
const $ = (id) => document.getElementById(id);
let P = {};
try { P = JSON.parse($('page').textContent) || {}; } catch (e) { /* keep the defaults */ }
let T = P.labels || {};
let lang = P.lang || 'en';

const log = $('log'), welcome = $('welcome'), composer = $('composer'), input = $('text');
const keys = $('keys'), statusEl = $('status'), retryBtn = $('retry');
const menuBtn = $('menu-btn'), menu = $('menu'), list = $('commands');
const startBtn = $('start'), haveBtn = $('have'), resumeForm = $('resume');
const codeInput = $('code'), codeErr = $('code-err');

const nodes = new Map(); // message_id -> element
let after = 0, gen = 0, ctl = null, polling = false, wake = null, hiddenPoll = false;
let lastError = null; // the error key of the last refused POST
let justResumed = false;
let retryFn = null, noticeTimer = 0, noticeKey = null;
let commands = null, pending = null, sending = false, starting = false;
let forceScroll = false, stick = true, moved = 0, leaving = false, lastEsc = 0;

const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  if (tag === 'button') e.type = 'button';
  return e;
};
const sleep = (ms) => new Promise((r) => { wake = r; setTimeout(r, ms); });

// Older phones' browsers (Safari < 14, Chrome < 86) lack replaceChildren.
function empty(n) { while (n.firstChild) n.removeChild(n.firstChild); }

// ---- requests
async function post(url, body) {
  const c = new AbortController();
  const timer = setTimeout(() => c.abort(), 30000);
  try {
    const r = await fetch(url, {
      method: 'POST', credentials: 'same-origin', cache: 'no-store', signal: c.signal,
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    lastError = null;
    if (!r.ok) {
      try { lastError = (await r.json()).error || null; } catch (e) { /* not JSON */ }
    }
    return r.status;
  } catch (e) {
    return 0; // offline, timed out
  } finally {
    clearTimeout(timer);
  }
}

// ---- the status region
function notify(key, retry, ms, raw) {
  clearTimeout(noticeTimer);
  noticeKey = raw == null ? key : null;
  statusEl.textContent = raw == null ? (T[key] || '') : raw;
  retryFn = retry || null;
  retryBtn.hidden = !retry;
  retryBtn.removeAttribute('aria-disabled');
  if (ms) noticeTimer = setTimeout(clearNotice, ms);
}
function clearNotice() {
  clearTimeout(noticeTimer);
  statusEl.textContent = '';
  noticeKey = null;
  retryFn = null;
  retryBtn.hidden = true;
}
// Which words a refusal gets: the server names its limit (a minute, 15 minutes, an hour).
function limitKey() {
  return lastError && T[lastError] && lastError.startsWith('slow_') ? lastError : 'slow_down';
}
function failed(status, retry) {
  if (status === 413) notify('too_long');
  else if (status === 429) notify(limitKey());
  else notify('unsent', retry);
}
retryBtn.addEventListener('click', async () => {
  const f = retryFn;
  if (!f || retryBtn.getAttribute('aria-disabled')) return;
  retryBtn.setAttribute('aria-disabled', 'true');
  await f();
  const here = document.activeElement;
  if (retryBtn.hidden && (here === retryBtn || here === document.body || !here)) focusHome();
  else retryBtn.removeAttribute('aria-disabled');
});
function focusHome() {
  if (!composer.hidden) input.focus();
  else log.focus({ preventScroll: true });
}

// ---- sending
async function send(payload, fromInput) {
  const status = await post('/chat/api/send', payload);
  if (status === 200) {
    clearNotice();
    forceScroll = true;
    if (fromInput && input.value === payload.text) { input.value = ''; grow(); }
    began();
    return true;
  }
  failed(status, () => send(payload, fromInput));
  return false;
}
function began() {
  welcome.hidden = true;
  composer.hidden = false;
  if (!polling) startPoll();
}
async function submitText() {
  const value = input.value;
  if (!value.trim() || sending) { input.focus(); return; }
  if (Array.from(value).length > 4096) { notify('too_long'); input.focus(); return; }
  sending = true;
  composer.classList.add('busy');
  await send({ text: value }, true);
  sending = false;
  composer.classList.remove('busy');
  input.focus();
}
function grow() {
  input.style.height = 'auto';
  if (input.value) input.style.height = Math.min(input.scrollHeight + 4, 160) + 'px';
}
composer.addEventListener('submit', (e) => { e.preventDefault(); submitText(); });
input.addEventListener('input', grow);
input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
    e.preventDefault();
    submitText();
  }
});

startBtn.addEventListener('click', async () => {
  if (starting) return;
  starting = true;
  startBtn.setAttribute('aria-disabled', 'true');
  const ok = await send({ text: P.start ? '/start ' + P.start : '/start' }, false);
  starting = false;
  startBtn.removeAttribute('aria-disabled');
  if (ok) log.focus({ preventScroll: true });
});

// ---- "I have a code"
haveBtn.addEventListener('click', () => {
  const open = resumeForm.hidden;
  resumeForm.hidden = !open;
  haveBtn.setAttribute('aria-expanded', String(open));
  if (open) codeInput.focus();
});
codeInput.addEventListener('input', () => {
  codeInput.removeAttribute('aria-invalid');
  codeErr.hidden = true;
});
async function resume() {
  const code = codeInput.value.trim();
  if (!code) { codeInput.focus(); return; }
  const status = await post('/chat/api/resume', { code: code });
  if (status === 200) {
    codeInput.value = '';
    codeInput.removeAttribute('aria-invalid');
    codeErr.hidden = true;
    clearNotice();
    clearLog();
    welcome.hidden = true;
    composer.hidden = false;
    justResumed = true; // the "opened on another device" this causes is not news here
    startPoll(0);
    log.focus({ preventScroll: true });
  } else if (status === 404) {
    codeErr.hidden = false;
    codeInput.setAttribute('aria-invalid', 'true');
    notify('bad_code');
    codeInput.focus();
  } else if (status === 429) {
    notify(limitKey());
  } else {
    notify('unsent', resume);
  }
}
resumeForm.addEventListener('submit', (e) => { e.preventDefault(); resume(); });

function showWelcome() {
  stopPoll();
  clearLog();
  after = 0;
  releasePending();
  const lost = composer.contains(document.activeElement);
  composer.hidden = true;
  welcome.hidden = false;
  if (lost) startBtn.focus();
}

// ---- the long poll
function stopPoll() {
  gen += 1;
  polling = false;
  if (ctl) ctl.abort();
  ctl = null;
  if (wake) wake();
}
function startPoll(from) {
  stopPoll();
  if (from !== undefined) after = from;
  polling = true;
  loop(gen);
}
async function loop(g) {
  let backoff = 1000;
  while (g === gen) {
    const c = (ctl = new AbortController());
    const timer = setTimeout(() => c.abort(), 35000);
    const t0 = Date.now();
    let data = null;
    try {
      const r = await fetch('/chat/api/events?after=' + after + '&lang=' + encodeURIComponent(lang),
        { signal: c.signal, cache: 'no-store', credentials: 'same-origin' });
      if (r.ok) data = await r.json();
    } catch (e) { /* retried below */ }
    clearTimeout(timer);
    if (g !== gen) return;
    if (!data) {
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 15000);
      continue;
    }
    backoff = 1000;
    if (!data.session) { showWelcome(); return; }
    handle(data);
    if (!(data.events || []).length && Date.now() - t0 < 500) await sleep(1000);
  }
}
window.addEventListener('online', () => { if (wake) wake(); });
// Keep the newest message in view when the log shrinks (phone keyboard, reply keys, notices).
log.addEventListener('scroll', () => { stick = nearBottom(); }, { passive: true });
const keep = () => { if (stick) log.scrollTop = log.scrollHeight; };
if (window.ResizeObserver) new ResizeObserver(keep).observe(log);
else window.addEventListener('resize', keep);

function handle(data) {
  const replay = after === 0 || data.reset;
  if (data.labels) applyLabels(data.labels, data.lang, data.dir);
  if (data.lang) lang = data.lang;
  if (data.commands) { commands = data.commands; renderCommands(); }
  const events = data.events || [];
  const near = forceScroll || replay || nearBottom();
  moved = 0; // 1: a message was added, 2: one was edited in place
  if (data.reset) { clearLog(); after = 0; }
  if (replay && events.length > 1) log.setAttribute('aria-busy', 'true');
  let mine = -1;
  if (justResumed) {
    events.forEach((ev, i) => { if (ev.kind === 'resumed') mine = i; });
    justResumed = false;
  }
  for (const [i, ev] of events.entries()) {
    if (i === mine) { if (ev.seq > after) after = ev.seq; continue; }
    try { apply(ev, replay); } catch (e) { /* one bad event must not stop the page */ }
    if (ev.seq > after) after = ev.seq;
  }
  log.removeAttribute('aria-busy');
  if (moved & 1 && near) toBottom();
  if (moved) forceScroll = false;
}
function toBottom() {
  log.scrollTop = log.scrollHeight;
  stick = true;
}
function nearBottom() {
  return log.scrollHeight - log.scrollTop - log.clientHeight < 120;
}

function apply(ev, replay) {
  switch (ev.kind) {
    case 'message':
    case 'edit':
      if (ev.message) render(ev.message);
      if (ev.kind === 'edit' || (ev.message && !ev.message.mine)) releasePending();
      break;
    case 'delete': {
      const m = nodes.get(ev.message_id);
      if (m) { m.remove(); nodes.delete(ev.message_id); }
      break;
    }
    case 'toast':
      releasePending();
      if (!replay && ev.text) {
        notify(null, null, Math.min(10000, 4000 + String(ev.text).length * 60), String(ev.text));
      }
      break;
    case 'code': addNotice('code', ev.code); break;
    case 'forgotten': clearLog(); addNotice('forgotten'); break;
    case 'unsent': addNotice('unsent'); break;
    case 'resumed': addNotice('resumed'); break;
    default: break;
  }
}

// ---- the conversation
function clearLog() {
  empty(log);
  nodes.clear();
  setKeys(null);
}
function addNotice(kind, code) {
  const n = el('p', 'notice n-' + kind);
  n.dir = 'auto';
  n.dataset.n = kind;
  if (code) n.dataset.code = code;
  fillNotice(n);
  log.appendChild(n);
  moved |= 1; // shown like a new message: scrolled into view when the person was reading on
}
function fillNotice(n) {
  const kind = n.dataset.n;
  if (kind === 'resumed') { // opened elsewhere with the code: a way to take it back
    empty(n);
    n.append(T.resumed || '');
    const b = el('button', 'key new-code', T.new_code || '');
    b.type = 'button';
    b.addEventListener('click', async () => {
      if (b.getAttribute('aria-disabled')) return;
      b.setAttribute('aria-disabled', 'true');
      const status = await post('/chat/api/new-code', {});
      if (status === 200) b.remove(); // the new code comes as a notice of its own
      else { b.removeAttribute('aria-disabled'); failed(status, null); }
    });
    n.append(' ', b);
    return;
  }
  if (kind !== 'code') { n.textContent = T[kind] || ''; return; }
  const parts = String(T.code || '{code}').split('{code}');
  if (parts.length < 2) parts.push('');
  empty(n);
  parts.forEach((part, i) => {
    if (i === 1) {
      const s = el('strong', 'code', n.dataset.code);
      s.dir = 'ltr';
      n.append(s);
    }
    n.append(part);
  });
}

function render(m) {
  const id = m.message_id;
  let box = nodes.get(id);
  const hadFocus = !!box && (box.contains(document.activeElement) ||
    (pending && pending.box === box && document.activeElement === document.body));
  if (!box) {
    box = el('div');
    nodes.set(id, box);
    log.appendChild(box);
    moved |= 1;
  } else {
    empty(box);
    moved |= 2;
  }
  box.className = 'msg ' + (m.mine ? 'mine' : 'bot');
  box.dir = 'auto';
  const body = el('div', 'text');
  body.dir = 'auto';
  body.innerHTML = m.html || ''; // sanitised by the server: only b, i, u, s, code, pre, blockquote
  box.appendChild(body);
  if (typeof m.voice === 'string' && m.voice.startsWith('/chat/api/voice/')) {
    const a = el('audio');
    a.controls = true;
    a.preload = 'none';
    a.src = m.voice;
    box.appendChild(a);
  }
  const rows = (m.buttons || []).filter((r) => r && r.length);
  if (rows.length) {
    box.classList.add('has-kb');
    const kb = el('div', 'kb');
    for (const row of rows) {
      const r = el('div', 'row');
      for (const b of row) r.appendChild(inlineButton(box, id, b));
      kb.appendChild(r);
    }
    box.appendChild(kb);
  }
  if (m.reply_keyboard) setKeys(m.reply_keyboard);
  if (m.remove_keyboard) setKeys(null);
  if (hadFocus) {
    const target = box.querySelector('.key:not([aria-disabled]):not(:disabled)');
    if (target) target.focus({ preventScroll: true });
    else { box.tabIndex = -1; box.focus({ preventScroll: true }); }
    box.scrollIntoView({ block: 'nearest' });
  }
}

function inlineButton(box, id, b) {
  let x;
  if (b.url && /^(https?:|tel:|mailto:)/i.test(b.url)) {
    x = el('a', 'key', b.text);
    x.href = b.url;
    x.rel = 'noopener noreferrer';
    x.target = '_blank';
  } else {
    x = el('button', 'key', b.text);
    if (b.data) x.addEventListener('click', () => press(box, id, b.data, x));
    else x.disabled = true;
  }
  x.dir = 'auto';
  return x;
}

function lock(box, btn) {
  releasePending();
  pending = { box: box, timer: 0 };
  box.querySelectorAll('button.key').forEach((k) => k.setAttribute('aria-disabled', 'true'));
  if (btn) btn.classList.add('busy');
}
function releasePending() {
  if (!pending) return;
  clearTimeout(pending.timer);
  pending.box.querySelectorAll('button.key').forEach((k) => {
    if (!k.disabled) k.removeAttribute('aria-disabled');
    k.classList.remove('busy');
  });
  pending = null;
}
async function press(box, id, data, btn) {
  if (btn.getAttribute('aria-disabled')) return;
  lock(box, btn);
  const mine = pending;
  const status = await post('/chat/api/press', { message_id: id, data: data });
  if (status === 200) {
    clearNotice();
    forceScroll = true;
    // Stay disabled until the bot answers (an edit, a message or a toast), at most 10 s.
    if (pending === mine) mine.timer = setTimeout(() => { if (pending === mine) releasePending(); }, 10000);
    return;
  }
  if (pending === mine) releasePending();
  if (status === 409) return; // the message changed meanwhile
  if (status === 401) { showWelcome(); return; }
  failed(status, () => press(box, id, data, btn));
}

// ---- reply keyboard (above the composer)
function setKeys(rows) {
  empty(keys);
  rows = (rows || []).filter((r) => r && r.length);
  keys.hidden = !rows.length;
  for (const row of rows) {
    const r = el('div', 'row');
    for (const b of row) {
      const x = el('button', null, b.text);
      x.dir = 'auto';
      x.addEventListener('click', () => (b.location ? locate(x) : send({ text: b.text }, false)));
      r.appendChild(x);
    }
    keys.appendChild(r);
  }
}
function locate(btn) {
  if (!navigator.geolocation || btn.getAttribute('aria-busy')) {
    if (!navigator.geolocation) notify('no_location');
    return;
  }
  btn.setAttribute('aria-busy', 'true');
  navigator.geolocation.getCurrentPosition((p) => {
    btn.removeAttribute('aria-busy');
    send({ latitude: p.coords.latitude, longitude: p.coords.longitude }, false);
  }, () => {
    btn.removeAttribute('aria-busy');
    notify('no_location');
  }, { timeout: 15000, maximumAge: 60000, enableHighAccuracy: false });
}

// ---- menu
function setMenu(open) {
  menu.hidden = !open;
  menuBtn.setAttribute('aria-expanded', String(open));
  if (open) {
    renderCommands();
    loadCommands();
  }
}
menuBtn.addEventListener('click', () => setMenu(menu.hidden));
async function loadCommands() {
  try {
    const r = await fetch('/chat/api/commands', { cache: 'no-store', credentials: 'same-origin' });
    if (r.ok) { commands = (await r.json()).commands || []; renderCommands(); }
  } catch (e) { /* the list stays as it was */ }
}
function renderCommands() {
  if (menu.hidden || !commands) return; // not loaded yet
  const had = menu.contains(document.activeElement);
  const shown = commands.length ? commands : [{ command: 'start', description: '' }];
  empty(list);
  for (const c of shown) {
    const li = el('li');
    const b = el('button');
    const name = el('span', 'cmd', '/' + c.command);
    name.dir = 'ltr';
    b.append(name);
    if (c.description) b.append(' — ' + c.description);
    b.addEventListener('click', () => {
      setMenu(false);
      menuBtn.focus();
      send({ text: '/' + c.command }, false);
    });
    li.appendChild(b);
    list.appendChild(li);
  }
  if (had) { const first = list.querySelector('button'); if (first) first.focus(); }
}

// ---- language
function applyLabels(labels, code, dir) {
  T = labels;
  // data-l: the text, data-la: aria-label, data-lp: placeholder
  document.querySelectorAll('[data-l],[data-la],[data-lp]').forEach((e) => {
    const d = e.dataset;
    if (T[d.l] != null) e.textContent = T[d.l];
    if (T[d.la] != null) e.setAttribute('aria-label', T[d.la]);
    if (T[d.lp] != null) e.placeholder = T[d.lp];
  });
  if (code) document.documentElement.lang = code.replace(/_/g, '-');
  if (dir === 'rtl' || dir === 'ltr') document.documentElement.dir = dir;
  if (T.title) document.title = T.title;
  log.querySelectorAll('[data-n]').forEach(fillNotice);
  if (noticeKey) statusEl.textContent = T[noticeKey] || '';
}

// ---- leave quickly
function leave() {
  if (leaving) return;
  leaving = true;
  stopPoll();
  try {
    empty(document.body);
    document.title = '';
  } catch (e) { /* go anyway */ }
  const go = () => location.replace('about:blank');
  // If the server is not told now (offline), the next visit tells it before anything shows.
  // The server's answer clears this flag with the rest of the site's data (Clear-Site-Data).
  try { localStorage.setItem('chat-left', '1'); } catch (e) { /* private mode */ }
  try {
    const gone = fetch('/chat/api/leave', {
      method: 'POST', keepalive: true, credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' }, body: '{}',
    });
    Promise.race([gone, new Promise((r) => setTimeout(r, 800))]).then(go, go);
  } catch (e) {
    go();
  }
}
$('leave').addEventListener('click', leave);
document.addEventListener('keydown', (e) => {
  if (e.key !== 'Escape' && e.key !== 'Esc') return;
  const now = Date.now();
  if (now - lastEsc < 800) { e.preventDefault(); leave(); return; }
  lastEsc = now;
  if (!menu.hidden) { setMenu(false); menuBtn.focus(); }
});

// Hidden page (another app in front): no polling, no data spent; back in front: poll again.
document.addEventListener('visibilitychange', () => {
  if (document.hidden) {
    if (polling) { hiddenPoll = true; stopPoll(); }
  } else if (hiddenPoll) {
    hiddenPoll = false;
    startPoll();
  }
});

// ---- start
let leftBefore = false;
try { leftBefore = localStorage.getItem('chat-left') === '1'; } catch (e) { /* none */ }
if (leftBefore && P.session) {
  // "Leave quickly" could not reach the server last time: end that session first.
  fetch('/chat/api/leave', { method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' }, body: '{}' })
    .then((r) => { if (r.ok) { try { localStorage.removeItem('chat-left'); } catch (e) { /* */ } } })
    .catch(() => { /* still offline: the page shows nothing of the conversation */ });
  showWelcome();
} else if (P.session) startPoll(0);
})();
