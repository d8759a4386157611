// Member-care console: plain DOM, no framework and no build step. Every value from the API or a
// member goes into the page as text (textContent / text nodes), never as HTML. The agent's
// credentials live in sessionStorage only and go to the API as Basic auth; sign-out clears them.

const API = new URL('../', location.href); // the console is served at <api>/console/
const AUTH_KEY = 'pp.console.auth';
const REASONS = [
  ['CUSTOMER_REQUEST', 'Customer request'],
  ['PARTNER_CORRECTION', 'Partner correction'],
  ['GOODWILL', 'Goodwill'],
  ['DATA_CORRECTION', 'Data correction'],
  ['OTHER', 'Other'],
];
const FIND_BY = [
  ['mobile', 'Mobile'],
  ['email', 'Email'],
  ['externalId', 'External id'],
  ['id', 'Customer id'],
  ['partnerMembershipId', 'Partner membership id'],
];
// Which form field a refusal code concerns (else the message shows above the buttons).
const CODE_FIELD = {
  2002: 'tier', 2003: 'expiry', 2006: 'program', 2007: 'tier', 2016: 'benefit', 2017: 'count',
};

const state = { me: null, member: null, catalog: null };

// ---------------------------------------------------------------- DOM

function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid == null || kid === false) continue;
    el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}

let uid = 0;
const nextId = (p) => `${p}-${++uid}`;

/** A labelled control with a place for its error (announced, and tied to the control). */
function field(label, control, hint) {
  control.id = control.id || nextId('f');
  const err = h('p', { class: 'field-error', id: `${control.id}-err`, role: 'alert' });
  const hintEl = hint ? h('p', { class: 'note', id: `${control.id}-hint` }, hint) : null;
  control.setAttribute('aria-describedby', [hintEl && hintEl.id, err.id].filter(Boolean).join(' '));
  const wrap = h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintEl, err);
  wrap.control = control;
  wrap.error = (msg) => {
    err.textContent = msg || '';
    if (msg) control.setAttribute('aria-invalid', 'true');
    else control.removeAttribute('aria-invalid');
  };
  return wrap;
}

const input = (props) => h('input', { type: 'text', ...props });
const select = (options, props) =>
  h('select', props, options.map(([v, t]) => h('option', { value: v }, t)));

function announce(msg) {
  document.getElementById('live').textContent = msg;
}

// Each navigation takes a number; a view whose data arrives after a newer navigation is dropped,
// so a slow answer never replaces the view the agent moved on to.
let navigation = 0;
const navigate = () => ++navigation;
const stillCurrent = (n) => n === navigation;

function show(view, title) {
  const main = document.getElementById('main');
  main.replaceChildren(view);
  document.title = `${title} · Partner Programs member care`;
  for (const b of document.querySelectorAll('#nav button')) {
    if (b.dataset.view === title) b.setAttribute('aria-current', 'page');
    else b.removeAttribute('aria-current');
  }
  main.focus();
}

// ---------------------------------------------------------------- dates

const zoneFormat = new Map();
function formatIn(zone, date) {
  const key = zone || '';
  if (!zoneFormat.has(key)) {
    zoneFormat.set(key, new Intl.DateTimeFormat('en-GB', {
      timeZone: zone || undefined, year: 'numeric', month: 'short', day: '2-digit',
      hour: '2-digit', minute: '2-digit', timeZoneName: 'short',
    }));
  }
  return zoneFormat.get(key).format(date);
}

const orgZone = () => (state.me && state.me.timeZone) || 'UTC';
const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;

/** An instant in the org's zone and the browser's, the UTC instant on hover. */
function when(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h('span', null, iso);
  return h('time', { datetime: d.toISOString(), title: `UTC ${d.toISOString()}` },
    h('span', { class: 'org' }, `${formatIn(orgZone(), d)} (org)`),
    h('span', { class: 'local' }, `${formatIn(browserZone(), d)} (${browserZone()})`));
}

/** The offset of `zone` at `date`, in minutes east of UTC. */
function zoneOffset(zone, date) {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(date);
  const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
  const asUtc = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
  return Math.round((asUtc - date.getTime()) / 60000);
}

/** What the API makes of a bare date: 23:59:59 of that day in the org's zone, as an ISO instant. */
function endOfDayInOrg(day) {
  const naive = Date.parse(`${day}T23:59:59Z`);
  if (Number.isNaN(naive)) return null;
  let t = naive - zoneOffset(orgZone(), new Date(naive)) * 60000;
  t = naive - zoneOffset(orgZone(), new Date(t)) * 60000;
  return new Date(t).toISOString();
}

/** Today in the org's zone, `yyyy-mm-dd`. */
function orgToday(plusDays = 0) {
  const d = new Date(Date.now() + plusDays * 86400000);
  const p = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
    timeZone: orgZone(), year: 'numeric', month: '2-digit', day: '2-digit',
  }).formatToParts(d).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}`;
}

// ---------------------------------------------------------------- API

const credentials = () => sessionStorage.getItem(AUTH_KEY);

class Unauthorized extends Error {}

/** Calls the API; resolves to { status, body }. A 401 ends the session and returns to sign-in. */
async function api(path, { method = 'GET', query, body, idempotencyKey } = {}) {
  const url = new URL(path, API);
  for (const [k, v] of Object.entries(query || {})) {
    if (v != null && v !== '') url.searchParams.set(k, v);
  }
  // X-Requested-With: a 401 then comes without a Basic challenge, so the browser shows no dialog.
  const headers = { Authorization: `Basic ${credentials()}`, 'X-Requested-With': 'XMLHttpRequest' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let json = null;
  try { json = await res.json(); } catch { json = null; }
  if (res.status === 401) {
    const msg = firstError(json) || 'Your credentials were refused.';
    signOut(msg);
    throw new Unauthorized(msg);
  }
  return { status: res.status, body: json };
}

function firstError(body) {
  const e = body && Array.isArray(body.errors) && body.errors[0];
  return e ? e.message + (e.detail ? ` (${e.detail})` : '') : '';
}

/** A failed call as a message for the page: the API's own words, with its code. */
function failure(res) {
  const e = res.body && Array.isArray(res.body.errors) && res.body.errors[0];
  if (!e) return `The API answered ${res.status}.`;
  return `${e.code}: ${e.message}${e.detail ? ` (${e.detail})` : ''}`;
}

// ---------------------------------------------------------------- sign-in

function encodeCredentials(key, secret) {
  const bytes = new TextEncoder().encode(`${key}:${secret}`);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function signInView(message) {
  navigate();
  const key = field('Client key', input({ name: 'clientKey', autocomplete: 'username', required: true }));
  const secret = field('Secret', input({ name: 'secret', type: 'password', autocomplete: 'current-password', required: true }));
  const error = h('p', { class: 'error', role: 'alert', id: 'signin-error' }, message || '');
  const form = h('form', { class: 'card signin', 'aria-labelledby': 'signin-title', onsubmit: async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    sessionStorage.setItem(AUTH_KEY, encodeCredentials(key.control.value.trim(), secret.control.value));
    try {
      await start();
    } catch (e) {
      if (!(e instanceof Unauthorized)) error.textContent = `Could not reach the API: ${e.message}`;
    }
  } }, h('h1', { id: 'signin-title' }, 'Sign in'),
  h('p', { class: 'note' }, 'Use the client key and secret your administrator issued to you.'),
  error, key, secret, h('button', { class: 'primary', type: 'submit' }, 'Sign in'));
  document.getElementById('nav').hidden = true;
  document.getElementById('who').replaceChildren();
  show(form, 'Sign in');
}

function signOut(message) {
  sessionStorage.clear();
  state.me = null;
  state.member = null;
  state.catalog = null;
  signInView(message);
}

async function start() {
  const res = await api('v2/organization/me');
  if (res.status === 403) {
    // API Gateway's answer to credentials its authorizer refused.
    signOut((res.body && res.body.message) || 'Your credentials were refused.');
    throw new Unauthorized('refused');
  }
  if (res.status !== 200) throw new Error(failure(res));
  state.me = res.body;
  const nav = document.getElementById('nav');
  const go = (name, fn) => h('button', { type: 'button', 'data-view': name, onclick: fn }, name);
  nav.replaceChildren(go('Find member', () => findView()), go('Worklist', () => worklistView()),
    go('Catalog', () => catalogView()));
  nav.hidden = false;
  document.getElementById('who').replaceChildren(
    h('span', { id: 'signed-in-as' }, `${state.me.displayName || state.me.clientKey} · ${state.me.role}`),
    h('button', { type: 'button', id: 'sign-out', onclick: () => signOut('You signed out.') }, 'Sign out'));
  findView();
}

const isAdmin = () => state.me && state.me.role === 'admin';
const ADMIN_ONLY = 'Only an admin can do this; you are signed in as';

// ---------------------------------------------------------------- find

function findView(prefill) {
  navigate();
  const by = field('Find by', select(FIND_BY, { name: 'by' }));
  const value = field('Value', input({ name: 'value', required: true, autocomplete: 'off' }));
  if (prefill) { by.control.value = prefill.by; value.control.value = prefill.value; }
  const error = h('p', { class: 'error', role: 'alert' });
  const results = h('div', { id: 'results' });
  const form = h('form', { class: 'card inline', role: 'search', 'aria-label': 'Find a member', onsubmit: async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    value.error('');
    const v = value.control.value.trim();
    if (!v) { value.error('Enter a value to search for.'); return; }
    try {
      await search(by.control.value, v, error, results);
    } catch (e) {
      if (!(e instanceof Unauthorized)) error.textContent = `Could not reach the API: ${e.message}`;
    }
  } }, by, value, h('div', { class: 'field' }, h('button', { class: 'primary', type: 'submit' }, 'Search')));
  const register = h('button', { type: 'button', id: 'register-customer', disabled: !isAdmin(),
    'aria-describedby': isAdmin() ? null : 'register-why', onclick: async () => { await loadCatalog(); registerDialog(); } }, 'Register a customer');
  const view = h('section', { 'aria-labelledby': 'find-title' }, h('h1', { id: 'find-title' }, 'Find a member'),
    form, error, h('div', { class: 'actions' }, register,
      isAdmin() ? null : h('span', { class: 'why', id: 'register-why' }, `${ADMIN_ONLY} ${state.me.role}.`)),
    results);
  show(view, 'Find member');
}

async function search(by, value, error, results) {
  if (by === 'partnerMembershipId') {
    const res = await api('v2/partnerProgram/membershipLookup', { query: { partnerMembershipId: value } });
    if (res.status !== 200) { error.textContent = failure(res); return; }
    const found = res.body.memberships || [];
    if (found.length === 0) { error.textContent = 'No membership has ever had that partner membership id.'; return; }
    if (found.length === 1) { await openMember('id', String(found[0].customerId)); return; }
    results.replaceChildren(h('h2', null, 'Memberships with that id'), h('ul', { class: 'plain' }, found.map((m) =>
      h('li', null, h('button', { type: 'button', onclick: () => openMember('id', String(m.customerId)) },
        `Customer ${m.customerId} · ${m.partnerProgramName} · ${m.current ? 'current' : 'ended'}`)))));
    return;
  }
  await openMember(by, value, error);
}

// ---------------------------------------------------------------- member view

async function openMember(by, value, errorEl) {
  const t0 = performance.now();
  const n = navigate();
  const [programs, catalog] = await Promise.all([
    api('v2/partnerProgram/customerPartnerPrograms',
      { query: { identifierName: by, identifierValue: value, includeEnded: 'true', includeBenefits: 'true' } }),
    loadCatalog(),
  ]);
  const body = programs.body || {};
  if (!stillCurrent(n)) return;
  if (programs.status !== 200 || !body.customer) {
    const msg = programs.status === 200 ? 'No customer has that identifier.' : failure(programs);
    if (errorEl) errorEl.textContent = msg;
    else findView({ by, value });
    return;
  }
  const id = String(body.customer.id);
  const preview = await api('v2/partnerProgram/expiryPreview', { query: { identifierName: 'id', identifierValue: id } });
  if (!stillCurrent(n)) return;
  state.member = {
    customer: body.customer,
    current: body.linkedPartnerPrograms || [],
    ended: body.endedPartnerPrograms || [],
    preview: preview.status === 200 ? preview.body.data || [] : null,
    previewError: preview.status === 200 ? '' : failure(preview),
    catalog,
  };
  renderMember();
  const ms = Math.round(performance.now() - t0);
  document.getElementById('main').dataset.renderMs = String(ms);
  announce(`Member ${id} shown.`);
}

const reload = () => openMember('id', String(state.member.customer.id));

function renderMember() {
  const m = state.member;
  const c = m.customer;
  const ids = h('dl', { class: 'facts' }, [['Customer id', c.id], ['Mobile', c.mobile], ['Email', c.email],
    ['External id', c.externalId]].map(([k, v]) => [h('dt', null, k), h('dd', null, v == null || v === '' ? '—' : v)]));
  const memberships = [...m.current, ...m.ended];
  const view = h('section', { 'aria-labelledby': 'member-title', id: 'member' },
    h('h1', { id: 'member-title' }, `Member ${c.id}`),
    h('div', { class: 'card' }, h('h2', null, 'Identifiers'), ids,
      h('div', { class: 'actions' }, h('button', { type: 'button', id: 'link-program', onclick: () => linkDialog() },
        'Link to a program'))),
    h('h2', null, `Partner memberships (${memberships.length})`),
    memberships.length ? h('div', { class: 'grid', id: 'memberships' }, memberships.map(membershipCard))
      : h('p', { class: 'note' }, 'No partner memberships yet.'),
    m.previewError ? h('p', { class: 'error' }, `What happens next could not be read: ${m.previewError}`) : null,
    timelineSection());
  show(view, 'Member');
}

/** A membership's status in words: its badge, and what qualifies it (with a date, if any). */
function statusText(p) {
  const st = p.status;
  if (!p.linked) return { cls: 'ended', badge: 'Ended', text: 'on ', date: p.partnerProgramMembershipLastUpdatedDate, tail: ` (${label(st).toLowerCase()})` };
  const s = { cls: st, badge: label(st), text: '' };
  if (p.pendingRelink) return { ...s, text: 'pending relink from ', date: p.pendingRelink.partnerProgramMembershipStartDate };
  if (st === 'PAUSED' && p.membershipPause) return { ...s, text: 'until ', date: p.membershipPause.pausedUntil };
  if (st === 'PENDING') return { ...s, text: 'starts ', date: p.partnerProgramMembershipStartDate };
  if (st === 'IN_GRACE') {
    const next = nextFor(p);
    return { ...s, text: 'until ', date: next && next.dueAt };
  }
  if (st === 'TIER_EXPIRED') return { ...s, text: 'on ', date: p.partnerTierExpiryDate };
  return s;
}

const label = (s) => (s ? s.charAt(0) + s.slice(1).toLowerCase().replaceAll('_', ' ') : '—');

function nextFor(p) {
  const list = state.member.preview || [];
  return list.find((e) => e.partnerProgramId === p.partnerProgramId && e.actions && e.actions.length);
}

function membershipCard(p) {
  const st = statusText(p);
  const facts = [
    ['Type', p.partnerProgramType],
    ['Membership id', p.partnerMembershipId || '—'],
    ['Tier', p.partnerTierName ? `${p.partnerTierName}${p.partnerTierNumber ? ` (tier ${p.partnerTierNumber})` : ''}` : '—'],
    ['Status', h('span', { class: 'status' }, h('span', { class: `badge ${st.cls}` }, st.badge), ' ', st.text,
      st.date ? when(st.date) : null, st.tail || null)],
    ['Tier expiry', when(p.partnerTierExpiryDate)],
    ['Membership start', when(p.partnerProgramMembershipStartDate)],
    ['Membership end', when(p.partnerProgramMembershipEndDate)],
  ];
  const titleId = nextId('pp');
  return h('article', { class: `card membership${p.linked ? '' : ' ended'}`, 'aria-labelledby': titleId,
    'data-program': p.partnerProgramName },
  h('h3', { id: titleId }, p.partnerProgramName),
  h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])),
  p.linked ? nextCard(p) : null,
  benefitsTable(p),
  p.linked ? membershipActions(p) : null);
}

/** The sweep's next steps for one membership, the state they lead to, and its reminders. */
function nextCard(p) {
  const list = (state.member.preview || []).filter((e) => e.partnerProgramId === p.partnerProgramId);
  const steps = list.flatMap((e) => (e.actions || []).map((a) => ({ ...a, entry: e })));
  const transitions = steps.filter((s) => !/REMINDER$/.test(s.action));
  const queued = steps.filter((s) => /REMINDER$/.test(s.action));
  const reminders = list.flatMap((e) => e.reminders || []);
  const last = transitions.length ? transitions[transitions.length - 1].entry : null;
  const result = last && [last.resultingTierName, label(last.resultingStatus)].filter(Boolean).join(', ');
  return h('div', { class: 'next', 'data-testid': 'next-step' }, h('h4', null, 'What happens next'),
    transitions.length ? h('ol', { class: 'plain' }, transitions.map((s, i) => h('li', null,
      h('strong', { class: i === 0 ? 'next-action' : 'then-action' }, label(s.action)), ' on ', when(s.at))))
      : h('p', { class: 'next-action' }, 'Nothing scheduled.'),
    result ? h('p', { class: 'next-result' }, `Then: ${result}`) : null,
    reminders.length || queued.length ? h('ul', { class: 'plain' },
      reminders.map((r) => h('li', null, `Reminder ${label(r.state).toLowerCase()}: `, label(r.kind), ' ', when(r.at))),
      queued.map((s) => h('li', null, 'Reminder queued: ', label(s.action), ' ', when(s.at)))) : null);
}

function benefitsTable(p) {
  const list = p.benefitsSummary || [];
  if (!list.length) return null;
  return h('table', { class: 'benefits' },
    h('caption', { class: 'label' }, 'Benefits this cycle'),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Benefit'), h('th', { scope: 'col' }, 'Used'),
      h('th', { scope: 'col' }, 'Cycle'))),
    h('tbody', null, list.map((b) => h('tr', { 'data-benefit': b.name }, h('td', null, b.name),
      h('td', { class: 'used' }, b.maximumAvailableInCycle != null
        ? `${b.countAvailedInCurrentCycle} of ${b.maximumAvailableInCycle}` : `${b.countAvailedInCurrentCycle} (no cap)`),
      h('td', null, b.currentCycleStartDate ? ['since ', when(b.currentCycleStartDate)] : null,
        h('span', { class: 'why' }, ' resets at the next renewal'))))));
}

function membershipActions(p) {
  const b = (text, fn, extra) => h('button', { type: 'button', onclick: fn, ...extra }, text);
  const supplementary = p.partnerProgramType === 'SUPPLEMENTARY';
  const hasBenefits = (programConfig(p.partnerProgramName)?.benefits || p.benefitsSummary || []).length > 0;
  return h('div', { class: 'actions' },
    p.tierBased ? b('Change tier or expiry', () => updateDialog(p)) : null,
    supplementary && p.status !== 'PAUSED' ? b('Pause', () => pauseDialog(p)) : null,
    supplementary && p.status === 'PAUSED' ? b('Resume', () => simpleUpdateDialog(p, 'RESUME')) : null,
    p.pendingRelink ? b('Cancel pending relink', () => simpleUpdateDialog(p, 'MEMBERSHIP_RELINKING_CANCELLED')) : null,
    hasBenefits && !supplementary ? b('Record a benefit', () => benefitDialog(p)) : null,
    b('Delink', () => delinkDialog(p)));
}

// ---------------------------------------------------------------- catalog

async function loadCatalog() {
  if (state.catalog) return state.catalog;
  let res = await api('v2/organization/programs', { query: { includeConfiguration: 'true' } });
  if (res.status === 400) res = await api('v2/organization/programs');
  state.catalog = res.status === 200 ? res.body.data || [] : [];
  return state.catalog;
}

const partnerPrograms = () => (state.catalog || []).flatMap((lp) => lp.partnerPrograms || []);

function programConfig(name) {
  const p = partnerPrograms().find((x) => x.partnerProgramName === name);
  return p && (p.configuration || p);
}

async function catalogView() {
  const n = navigate();
  state.catalog = null;
  // Partner files are an admin's: an agent is not sent to a route that would refuse it.
  const [data, files] = await Promise.all([loadCatalog(),
    isAdmin() ? api('v2/partnerProgram/partnerFiles', { query: { limit: 20 } }) : null]);
  if (!stillCurrent(n)) return;
  const view = h('section', { 'aria-labelledby': 'catalog-title' }, h('h1', { id: 'catalog-title' }, 'Program catalog'),
    data.length ? null : h('p', { class: 'note' }, 'No loyalty programs yet.'),
    data.map((lp) => h('div', { class: 'card' },
      h('h2', null, `${lp.programName}${lp.default ? ' (default)' : ''}`),
      lp.programDescription ? h('p', { class: 'note' }, lp.programDescription) : null,
      (lp.partnerPrograms || []).length ? lp.partnerPrograms.map(programCard)
        : h('p', { class: 'note' }, 'No partner programs in this loyalty program yet.'))),
    recentFiles(files));
  show(view, 'Catalog');
}

const count = (n) => (n == null ? '—' : Number(n).toLocaleString('en-GB'));

/** Seconds as a person says them: "45 s", "4 min", "2 h 5 min". */
function duration(seconds) {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.ceil(seconds / 60);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function fileStatus(f) {
  if (f.status === 'RUNNING' && f.estimatedSecondsLeft != null) {
    return `${label(f.status)}, about ${duration(f.estimatedSecondsLeft)} left`;
  }
  return f.status === 'REJECTED' && f.error ? `${label(f.status)}: ${f.error}` : label(f.status);
}

/** The org's newest partner files (an admin's answer from `partnerFiles`; `null` for an agent). */
function recentFiles(res) {
  const section = (...kids) => h('section', { class: 'card', 'aria-labelledby': 'files-title' },
    h('h2', { id: 'files-title' }, 'Recent partner files'), kids);
  if (!res) return section(h('p', { class: 'note' }, 'Partner files and their progress are visible to admins.'));
  if (res.status !== 200) return section(h('p', { class: 'error', role: 'alert' }, failure(res)));
  const files = res.body.data || [];
  if (!files.length) return section(h('p', { class: 'note' }, 'No partner files yet.'));
  const cols = ['File', 'Program', 'Status', 'Rows done / total', 'Applied', 'Refused', 'Started', 'Finished'];
  return section(h('div', { class: 'scroll', tabindex: 0, role: 'region', 'aria-label': 'Recent partner files' },
    h('table', { id: 'partner-files' },
      h('caption', { class: 'visually-hidden' }, 'Partner files, newest first'),
      h('thead', null, h('tr', null, cols.map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, files.map((f) => h('tr', { 'data-file': f.fileId },
        h('td', { class: 'file-name' }, f.fileName), h('td', null, f.partnerProgramName),
        h('td', null, fileStatus(f)), h('td', null, `${count(f.rowsDone)} / ${count(f.rowsTotal)}`),
        h('td', null, count(f.applied)), h('td', null, count(f.refused)),
        h('td', null, when(f.startedAt)), h('td', null, when(f.finishedAt))))))));
}

function programCard(p) {
  const c = p.configuration || p;
  const tiers = (c.partnerProgramTiers || []).map((t) => `${t.tierNumber ?? ''} ${t.tierName ?? t.name ?? ''}`.trim());
  const benefits = (c.benefits || []).map((b) => `${b.name} (${b.type})${b.maximumAvailableInCycle ? `, ${b.maximumAvailableInCycle} per cycle` : ', no cap'}`);
  const facts = [
    ['Type', c.partnerProgramType],
    ['Tiers', tiers.length ? tiers.join(' · ') : 'Not tier-based'],
    ['Benefits', benefits.length ? benefits.join('; ') : 'None'],
    ['On tier expiry', c.onTierExpiry ? label(c.onTierExpiry) : '—'],
    ['Grace period', c.tierGracePeriodDays != null ? `${c.tierGracePeriodDays} days` : '—'],
    ['Reminders', c.expiryReminderDays && c.expiryReminderDays.length ? `${c.expiryReminderDays.join(', ')} days before` : 'None'],
    ['Membership period', c.membershipPeriodValue ? `${c.membershipPeriodValue} ${String(c.membershipPeriodType || '').toLowerCase()}` : '—'],
    ['Program expiry', c.expiryDate ? when(c.expiryDate) : 'None'],
    ['Backup program', c.backupPartnerProgramName || '—'],
  ];
  return h('article', { class: 'card', 'data-program': c.partnerProgramName }, h('h3', null, c.partnerProgramName),
    c.partnerProgramDescription ? h('p', { class: 'note' }, c.partnerProgramDescription) : null,
    h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', null, k), h('dd', null, v)])));
}

// ---------------------------------------------------------------- worklist

async function worklistView(days = 30, cursor, rows = []) {
  const daysField = field('Ending within (days)', input({ type: 'number', min: 1, max: 92, value: days, name: 'days' }));
  const error = h('p', { class: 'error', role: 'alert' });
  const until = endOfDayInOrg(orgToday(days));
  const n = navigate();
  const res = await api('v2/partnerProgram/expiryPreview', { query: { until, limit: 25, cursor } });
  if (!stillCurrent(n)) return;
  if (res.status !== 200) error.textContent = failure(res);
  const all = rows.concat(res.status === 200 ? res.body.data || [] : []);
  const next = res.status === 200 && res.body.pagination && res.body.pagination.nextCursor;
  const table = h('div', { class: 'scroll', tabindex: 0, role: 'region', 'aria-label': 'Worklist' }, h('table', { id: 'worklist' },
    h('caption', { class: 'visually-hidden' }, 'Memberships with something due'),
    h('thead', null, h('tr', null, ['Due', 'Customer', 'Program', 'What happens', ''].map((t) =>
      h('th', { scope: 'col' }, t)))),
    h('tbody', null, all.map((e) => h('tr', null, h('td', null, when(e.dueAt || (e.actions[0] || {}).at)),
      h('td', null, e.customerId != null ? String(e.customerId) : 'every member'),
      h('td', null, e.partnerProgramName),
      h('td', null, (e.actions || []).map((a) => label(a.action)).join(' → '),
        e.resultingTierName || e.resultingStatus ? ` (→ ${[e.resultingTierName, label(e.resultingStatus)].filter(Boolean).join(', ')})` : ''),
      h('td', null, e.customerId != null ? h('button', { type: 'button',
        onclick: () => openMember('id', String(e.customerId)) }, `Open member ${e.customerId}`) : null))))));
  const form = h('form', { class: 'card inline', onsubmit: (ev) => {
    ev.preventDefault();
    const n = Number(daysField.control.value);
    if (!(n >= 1 && n <= 92)) { daysField.error('Choose 1 to 92 days.'); return; }
    worklistView(n);
  } }, daysField, h('div', { class: 'field' }, h('button', { class: 'primary', type: 'submit' }, 'Show')));
  show(h('section', { 'aria-labelledby': 'worklist-title' }, h('h1', { id: 'worklist-title' }, 'Worklist'),
    h('p', { class: 'note' }, 'Tiers and memberships that end, and reminders due, up to the end of that day in the org\'s time zone.'),
    form, error, all.length ? table : h('p', { class: 'note' }, 'Nothing due in that window.'),
    next ? h('button', { type: 'button', onclick: () => worklistView(days, next, all) }, 'Show more') : null), 'Worklist');
}

// ---------------------------------------------------------------- timeline

function timelineSection() {
  const type = field('Type', select([['', 'All activity'], ['LINKINGUPDATES', 'Linking updates'],
    ['BENEFITSAVAILED', 'Benefits availed']], { name: 'activityType' }));
  const programs = [...state.member.current, ...state.member.ended];
  const program = field('Program', select([['', 'All programs'],
    ...programs.map((p) => [String(p.partnerProgramId), p.partnerProgramName])], { name: 'program' }));
  const from = field('From', input({ type: 'date', name: 'startDate' }), 'Dates apply to benefits availed.');
  const to = field('To', input({ type: 'date', name: 'endDate' }));
  const list = h('ol', { class: 'timeline', id: 'timeline', 'aria-label': 'Activity, newest first' });
  const error = h('p', { class: 'error', role: 'alert', id: 'timeline-error' });
  const more = h('button', { type: 'button', hidden: true }, 'Show older');
  let entries = [];
  let cursor = null;
  const load = async (append) => {
    error.textContent = '';
    const windowed = from.control.value || to.control.value;
    if (windowed && type.control.value !== 'BENEFITSAVAILED') {
      error.textContent = 'A date window applies to benefits only: choose "Benefits availed" as the type.';
      return;
    }
    const res = await api('v2/partnerProgram/customerActivityHistories', { query: {
      identifierName: 'id', identifierValue: String(state.member.customer.id), limit: 20,
      activityType: type.control.value, partnerProgramId: program.control.value,
      startDate: from.control.value, endDate: to.control.value, cursor: append ? cursor : null,
    } });
    const body = res.body || {};
    const code = body.errors && body.errors[0] && body.errors[0].code;
    if (res.status !== 200 && code === 2013) {
      error.textContent = 'That window is too long: the history shows at most one year at a time. Choose dates less than a year apart.';
      return;
    }
    if (res.status !== 200) { error.textContent = failure(res); return; }
    const page = (body.data || []).flatMap((d) => (d.customerActivityHistory || []).map((a) =>
      ({ ...a, program: d.partnerProgramDetails.partnerProgramName || `program ${d.partnerProgramDetails.partnerProgramId}` })));
    entries = append ? entries.concat(page) : page;
    entries.sort((a, b) => Date.parse(b.activityDate) - Date.parse(a.activityDate));
    cursor = body.pagination && body.pagination.nextCursor;
    more.hidden = !cursor;
    list.replaceChildren(...entries.map(timelineEntry));
    if (!entries.length) list.replaceChildren(h('li', null, 'No activity in this view.'));
  };
  more.addEventListener('click', () => load(true));
  const form = h('form', { class: 'inline', 'aria-label': 'Filter the timeline', onsubmit: (ev) => { ev.preventDefault(); load(false); } },
    type, program, from, to, h('div', { class: 'field' }, h('button', { type: 'submit' }, 'Apply')));
  queueMicrotask(() => load(false));
  return h('section', { class: 'card', 'aria-labelledby': 'timeline-title' }, h('h2', { id: 'timeline-title' }, 'Timeline'),
    form, error, list, more);
}

function stateText(s) {
  if (!s) return 'not linked';
  return [s.partnerTierName, label(s.status)].filter(Boolean).join(', ');
}

function timelineEntry(a) {
  const bd = a.benefitDetails;
  const bill = bd ? [bd.billNumber && `bill ${bd.billNumber}`, bd.billId != null && `bill id ${bd.billId}`,
    bd.storeName && `store ${bd.storeName}`, bd.tillName && `till ${bd.tillName}`].filter(Boolean).join(', ') : '';
  const who = a.actor ? `${a.actor.displayName || a.actor.clientKey} (${a.actor.role})` : 'System (scheduled expiry)';
  const reason = a.reason ? `${(REASONS.find(([c]) => c === a.reason.code) || [0, a.reason.code])[1]}${a.reason.note ? `: ${a.reason.note}` : ''}` : '';
  return h('li', { 'data-activity': a.activityType },
    h('div', null, when(a.activityDate)),
    h('div', null,
      h('p', { class: 'what' }, `${label(a.activityType)} · ${a.program}`),
      a.from || a.to ? h('p', { class: 'change' }, `${stateText(a.from)} → ${stateText(a.to)}`,
        a.to && a.to.partnerTierExpiryDate ? [' · tier expiry ', when(a.to.partnerTierExpiryDate)] : null) : null,
      bd ? h('p', { class: 'change' }, `${bd.name} × ${bd.count}${bill ? ` · ${bill}` : ''}`) : null,
      h('p', { class: 'why' }, h('span', { class: 'actor' }, `By ${who}`), reason ? h('span', { class: 'reason' }, ` · Why: ${reason}`) : null)));
}

// ---------------------------------------------------------------- actions

/**
 * A dialog for one action: its fields, a reason, a preview before confirming, and one
 * Idempotency-Key per submission (a double click sends the same key, so the change applies once).
 */
function actionDialog({ title, fields, preview, send, result, reasoned = true }) {
  const reason = field('Reason', select([['', 'Choose a reason…'], ...REASONS], { name: 'reasonCode', required: true }));
  const note = field('Note', h('textarea', { name: 'reasonNote', maxlength: 500 }), 'Do not write personal data here.');
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'action-error' });
  const previewBox = h('div', { class: 'preview', hidden: true, 'aria-live': 'polite', 'data-testid': 'preview' });
  const confirm = h('button', { type: 'button', class: 'primary', hidden: true, 'data-testid': 'confirm' }, 'Confirm');
  const review = h('button', { type: 'submit', class: 'primary' }, 'Preview');
  const cancel = h('button', { type: 'button' }, 'Cancel');
  const all = reasoned ? { ...fields, reason, note } : { ...fields };
  let key = null;
  const clearErrors = () => { error.textContent = ''; Object.values(all).forEach((f) => f.error('')); };
  const form = h('form', { method: 'dialog', onsubmit: (ev) => {
    ev.preventDefault();
    clearErrors();
    if (reasoned && !reason.control.value) { reason.error('Choose a reason.'); reason.control.focus(); return; }
    const shown = preview();
    if (typeof shown === 'string') { error.textContent = shown; return; }
    previewBox.replaceChildren(h('p', { class: 'label' }, 'You are about to:'), shown);
    previewBox.hidden = false;
    confirm.hidden = false;
    key = crypto.randomUUID();
    confirm.focus();
  } }, h('h2', null, title), Object.values(fields), reasoned ? [reason, note] : null, previewBox, error,
  h('div', { class: 'actions' }, review, confirm, cancel));
  const dialog = h('dialog', { 'aria-label': title }, form);
  const opener = document.activeElement;
  // Closed by Cancel, Escape or a success: gone from the page, focus back where it was.
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (opener && opener.isConnected) opener.focus();
  });
  const close = () => dialog.close();
  cancel.addEventListener('click', close);
  for (const f of Object.values(all)) {
    f.control.addEventListener('input', () => { previewBox.hidden = true; confirm.hidden = true; });
  }
  confirm.addEventListener('click', async () => {
    if (confirm.disabled) return;
    confirm.disabled = true;
    clearErrors();
    try {
      const why = { code: reason.control.value, ...(note.control.value.trim() ? { note: note.control.value.trim() } : {}) };
      const res = await send(why, key);
      const status = res.status < 300 ? result(res.body) : null;
      if (status && status.status) {
        close();
        announce(`${title}: done.`);
        await reload();
        return;
      }
      const e = status || (res.body && res.body.errors && res.body.errors[0]) || { code: res.status, message: failure(res) };
      const text = `${e.code}: ${e.message}${e.detail ? ` (${e.detail})` : ''}`;
      const target = all[CODE_FIELD[e.code]];
      if (target) { target.error(text); target.control.focus(); } else error.textContent = text;
      previewBox.hidden = true;
      confirm.hidden = true;
    } catch (e) {
      // No answer: the change may or may not have applied. Confirming again sends the same
      // Idempotency-Key, so it applies at most once.
      if (!(e instanceof Unauthorized)) {
        error.textContent = `No answer from the API (${e.message}). Confirm again to retry: it applies at most once.`;
      }
    } finally {
      confirm.disabled = false;
    }
  });
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

const customerRef = () => ({ id: state.member.customer.id });
const first = (body, list, inner, status) => {
  const item = body && body[list] && body[list][0];
  return item && item[inner] && item[inner][0] && item[inner][0][status];
};

function tierSelect(programName, current) {
  const cfg = programConfig(programName) || {};
  const tiers = (cfg.partnerProgramTiers || []).map((t) => t.tierName ?? t.name).filter(Boolean);
  const s = select([['', 'Choose a tier…'], ...tiers.map((t) => [t, t])], { name: 'tier' });
  if (current) s.value = current;
  return s;
}

function expiryPreviewText(day) {
  const iso = endOfDayInOrg(day);
  return iso ? ['end of ', day, ' in the org\'s zone: ', when(iso)] : day;
}

function updateDialog(p) {
  const fields = {
    type: field('Change', select([['UPGRADE', 'Upgrade'], ['DOWNGRADE', 'Downgrade'], ['RENEW', 'Renew'],
      ['UPDATE', 'Update']], { name: 'updateType' })),
    tier: field('New tier', tierSelect(p.partnerProgramName, p.partnerTierName)),
    expiry: field('New tier expiry date', input({ type: 'date', name: 'expiry', required: true })),
  };
  actionDialog({
    title: `Change ${p.partnerProgramName}`,
    fields,
    preview: () => {
      const day = fields.expiry.control.value;
      if (!day) { fields.expiry.error('Choose the new expiry date.'); return ''; }
      return h('ul', { class: 'plain' },
        h('li', null, `${label(fields.type.control.value)}: tier ${p.partnerTierName || '—'} → ${fields.tier.control.value || '—'}`),
        h('li', null, 'Tier expiry: ', when(p.partnerTierExpiryDate), ' → ', expiryPreviewText(day)));
    },
    send: (reason, key) => updateCall(p, fields.type.control.value,
      { updatedTierName: fields.tier.control.value, updatedTierExpiryDate: fields.expiry.control.value }, reason, key),
    result: updateResult,
  });
}

function pauseDialog(p) {
  const fields = { expiry: field('Pause until', input({ type: 'date', name: 'pauseEndDate', required: true })) };
  actionDialog({
    title: `Pause ${p.partnerProgramName}`,
    fields,
    preview: () => {
      const day = fields.expiry.control.value;
      if (!day) { fields.expiry.error('Choose when the pause ends.'); return ''; }
      return h('ul', { class: 'plain' }, h('li', null, 'Paused from now until ', expiryPreviewText(day)),
        h('li', null, 'The membership end moves later by the length of the pause.'));
    },
    send: (reason, key) => updateCall(p, 'PAUSE', { pauseEndDate: fields.expiry.control.value }, reason, key),
    result: updateResult,
  });
}

const updateResult = (b) => first(b, 'customersPartnerUpdates', 'partnerProgramUpdates', 'updateStatus');

function updateCall(p, updateType, updateDetails, reason, key) {
  const update = { partnerProgramName: p.partnerProgramName, updateType, reason };
  if (updateDetails) update.updateDetails = updateDetails;
  return api('v2/partnerProgram/customerPartnerProgramUpdate', { method: 'POST', idempotencyKey: key, body: {
    customersPartnerUpdates: [{ customer: customerRef(), partnerProgramUpdates: [update] }] } });
}

function simpleUpdateDialog(p, updateType) {
  const words = updateType === 'RESUME' ? 'Resume the membership now' : 'Cancel the pending relink';
  actionDialog({
    title: `${updateType === 'RESUME' ? 'Resume' : 'Cancel relink of'} ${p.partnerProgramName}`,
    fields: {},
    preview: () => h('p', null, `${words}.`),
    send: (reason, key) => updateCall(p, updateType, null, reason, key),
    result: updateResult,
  });
}

function delinkDialog(p) {
  actionDialog({
    title: `Delink ${p.partnerProgramName}`,
    fields: {},
    preview: () => h('p', null, `End this membership now (tier ${p.partnerTierName || '—'}); it stays in the history.`),
    send: (reason, key) => api('v2/partnerProgram/deLinkCustomer', { method: 'POST', idempotencyKey: key, body: {
      deLinkCustomers: [{ customer: customerRef(), deLinkFromPartnerPrograms: [{ partnerProgramName: p.partnerProgramName, reason }] }] } }),
    result: (b) => first(b, 'deLinkCustomers', 'deLinkFromPartnerPrograms', 'partnerDeLinkStatus'),
  });
}

function benefitDialog(p) {
  const names = (p.benefitsSummary || []).map((b) => [b.name, b.name]);
  const fields = {
    benefit: field('Benefit', select(names, { name: 'benefit' })),
    count: field('Count', input({ type: 'number', min: 1, value: 1, name: 'count' })),
    bill: field('Bill number', input({ name: 'billNumber' })),
    store: field('Store', input({ name: 'storeName' })),
  };
  actionDialog({
    title: `Record a benefit: ${p.partnerProgramName}`,
    fields,
    preview: () => {
      const b = (p.benefitsSummary || []).find((x) => x.name === fields.benefit.control.value);
      const n = Number(fields.count.control.value);
      if (!b) return 'Choose a benefit.';
      const after = b.countAvailedInCurrentCycle + (Number.isFinite(n) ? n : 0);
      const cap = b.maximumAvailableInCycle;
      return h('ul', { class: 'plain' }, h('li', null, `${b.name} × ${fields.count.control.value}`),
        h('li', null, cap != null ? `Used this cycle: ${b.countAvailedInCurrentCycle} of ${cap} → ${after} of ${cap}`
          : `Used this cycle: ${b.countAvailedInCurrentCycle} → ${after} (no cap)`),
        cap != null && after > cap ? h('li', null, 'This is over the cycle\'s maximum; the API will refuse it.') : null);
    },
    send: (reason, key) => {
      const item = { partnerProgramName: p.partnerProgramName, reason,
        benefits: [{ name: fields.benefit.control.value, count: fields.count.control.value }] };
      if (fields.bill.control.value.trim()) item.billNumber = fields.bill.control.value.trim();
      if (fields.store.control.value.trim()) item.storeName = fields.store.control.value.trim();
      return api('v2/partnerProgram/customerBenefits', { method: 'POST', idempotencyKey: key, body: {
        customerBenefits: [{ customer: customerRef(), partnerProgramBenefits: [item] }] } });
    },
    result: (b) => first(b, 'customerBenefits', 'partnerProgramBenefits', 'benefitStatus'),
  });
}

function linkDialog() {
  const names = partnerPrograms().map((p) => [p.partnerProgramName, p.partnerProgramName]);
  const fields = {
    program: field('Partner program', select([['', 'Choose a program…'], ...names], { name: 'program' })),
    membership: field('Partner membership id', input({ name: 'partnerMembershipId' })),
    tier: field('Tier', select([['', 'No tier']], { name: 'tier' })),
    expiry: field('Tier expiry date', input({ type: 'date', name: 'expiry' })),
  };
  fields.program.control.addEventListener('change', () => {
    const fresh = tierSelect(fields.program.control.value);
    fields.tier.control.replaceChildren(...fresh.children);
  });
  actionDialog({
    title: 'Link to a partner program',
    fields,
    preview: () => {
      if (!fields.program.control.value) { fields.program.error('Choose a program.'); return ''; }
      const day = fields.expiry.control.value;
      return h('ul', { class: 'plain' }, h('li', null, `Link to ${fields.program.control.value}`),
        h('li', null, `Tier: — → ${fields.tier.control.value || '—'}`),
        day ? h('li', null, 'Tier expiry: ', expiryPreviewText(day)) : null);
    },
    send: (reason, key) => {
      const ref = {};
      if (fields.membership.control.value.trim()) ref.partnerMembershipId = fields.membership.control.value.trim();
      if (fields.tier.control.value) ref.partnerTierName = fields.tier.control.value;
      if (fields.expiry.control.value) ref.partnerTierExpiryDate = fields.expiry.control.value;
      return api('v2/partnerProgram/linkCustomer', { method: 'POST', idempotencyKey: key, body: {
        linkCustomers: [{ customer: customerRef(), linkToPartnerPrograms: [{
          partnerProgramName: fields.program.control.value, customerPartnerReference: ref, reason }] }] } });
    },
    result: (b) => first(b, 'linkCustomers', 'linkToPartnerPrograms', 'partnerLinkStatus'),
  });
}

function registerDialog() {
  const programs = (state.catalog || []).map((lp) => [String(lp.programId), lp.programName]);
  const fields = {
    mobile: field('Mobile', input({ name: 'mobile', inputmode: 'tel' })),
    email: field('Email', input({ name: 'email', type: 'email' })),
    externalId: field('External id', input({ name: 'externalId' })),
    program: field('Enrol in loyalty program', select(programs, { name: 'programId' })),
  };
  actionDialog({
    title: 'Register a customer',
    fields,
    reasoned: false,
    preview: () => {
      const ids = ['mobile', 'email', 'externalId'].filter((k) => fields[k].control.value.trim());
      if (!ids.length) return 'Give at least one identifier.';
      const lp = programs.find(([v]) => v === fields.program.control.value);
      return h('p', null, `Register a customer with ${ids.join(', ')}${lp ? `, enrolled in ${lp[1]}` : ''}.`);
    },
    send: async (_reason, key) => {
      const body = {};
      for (const k of ['mobile', 'email', 'externalId']) {
        if (fields[k].control.value.trim()) body[k] = fields[k].control.value.trim();
      }
      if (fields.program.control.value) body.programIds = [Number(fields.program.control.value)];
      const res = await api('v2/customers', { method: 'POST', idempotencyKey: key, body });
      if (res.status === 201) state.member = { customer: res.body.customer };
      return res;
    },
    result: (b) => (b && b.customer ? { status: true } : null),
  });
}

// ---------------------------------------------------------------- start

if (credentials()) {
  start().catch((e) => { if (!(e instanceof Unauthorized)) signOut(`Could not reach the API: ${e.message}`); });
} else {
  signInView();
}
