#!/usr/bin/env node
// Interop check: the MCP Inspector's web UI (`@modelcontextprotocol/inspector`, v2) driven in
// headless Chromium against one of our servers behind OAuth, the way a person would use it:
// add the server in the UI, switch it on, let the Inspector do its own OAuth discovery and
// registration, sign in on Keycloak's own login page (and accept its consent page), come back to
// the Inspector's /oauth/callback, then list the tools and call echo from the Tools tab.
//
//   node scripts/interop/inspector.mjs --inspector-url http://127.0.0.1:6274/
//        [--server-url http://localhost:9000/mcp] [--client-id ID] [--server-id NAME]
//        [--message TEXT]
//
// The script starts nothing but Chromium: the Inspector (`mcp-inspector --web`) and the MCP
// server must already run. The Inspector's /api is protected by a token (its default; printed in
// its banner, or set beforehand with MCP_INSPECTOR_API_TOKEN). The URL its banner prints carries
// it (?MCP_INSPECTOR_API_TOKEN=...); INSPECTOR_API_TOKEN adds it to a URL without one. (v2 also
// writes the token into the index.html it serves to an allowed Host, and the page prefers that
// copy, so the page works without it in the URL; an Inspector started with
// DANGEROUSLY_OMIT_AUTH=true has no token at all.) The token is shown as its first 6 characters.
//
// --client-id ID   a client pre-registered at the authorization server, typed into the server's
//                  "OAuth Settings" → "Client ID"; the Inspector then does no registration. Without
//                  it the Inspector registers itself (RFC 7591 dynamic client registration).
// --server-id NAME the server's id in the Inspector's catalog (default mcp-auth-steps).
// --message TEXT   what tools/call echo sends (default "hello from the MCP Inspector").
//
// Environment: INSPECTOR_API_TOKEN; LOGIN_USER / LOGIN_PASSWORD (default mcp-user / user123, the
// tutorial realm's demo user); INSPECTOR_TIMEOUT_MS (whole run, default 120000);
// INSPECTOR_SCREENSHOT=file.png (the page when a step fails); INSPECTOR_CHROMIUM (default
// /usr/bin/chromium); INSPECTOR_DEBUG=1 (every /api call of the page and every navigation on
// stderr, redacted).
//
// Output: one line per step, "ok - STEP: what was seen" or, where the run stops, "not ok - STEP:
// why" (with the Inspector's own error message), "# ..." lines with details, and a last line
// "inspector flow complete" or "inspector flow stopped at STEP". Tokens, codes, state values, the
// API token and the password are never printed in full (at most the first 6 characters and "…").
// Exit status: 0 the whole flow worked, 1 a step failed, 2 bad usage or missing tools.
//
// How the Inspector v2 talks to the outside world (read from its build, 2.12.0): the page sends
// every MCP message through its own backend (POST /api/mcp/connect, /api/mcp/send), and the OAuth
// client in the page sends its discovery, registration and token requests through the backend
// too (POST /api/fetch {url, method, headers, body}). So the browser itself only navigates to the
// authorization server; neither our server's nor Keycloak's CORS headers are involved. This
// script reads those /api calls (request and response) to report each OAuth step.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PROG = 'inspector.mjs';
const HERE = dirname(fileURLToPath(import.meta.url));

const USAGE =
  `usage: node ${PROG} --inspector-url URL [--server-url URL] [--client-id ID] [--server-id NAME] [--message TEXT]\n` +
  '  env: INSPECTOR_API_TOKEN, LOGIN_USER (mcp-user), LOGIN_PASSWORD (user123), INSPECTOR_TIMEOUT_MS (120000),\n' +
  '       INSPECTOR_SCREENSHOT=file.png, INSPECTOR_CHROMIUM (/usr/bin/chromium), INSPECTOR_DEBUG=1';

function usage(message) {
  if (message) process.stderr.write(`${PROG}: ${message}\n`);
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}

// ------------------------------------------------------------------ command line, environment

const FLAGS = {
  '--inspector-url': 'inspectorUrl',
  '--server-url': 'serverUrl',
  '--client-id': 'clientId',
  '--server-id': 'serverId',
  '--message': 'message',
};
const opts = {
  inspectorUrl: '',
  serverUrl: 'http://localhost:9000/mcp',
  clientId: '',
  serverId: 'mcp-auth-steps',
  message: 'hello from the MCP Inspector',
};
{
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') { process.stdout.write(`${USAGE}\n`); process.exit(0); }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const key = FLAGS[flag];
    if (key === undefined) usage(`unknown argument ${JSON.stringify(flag)}`);
    if (eq > 0) opts[key] = arg.slice(eq + 1);
    else if (i + 1 < argv.length) opts[key] = argv[++i];
    else usage(`${flag} needs a value`);
  }
}
if (!opts.inspectorUrl) usage('--inspector-url is required');
let uiUrl;
let serverUrl;
try { uiUrl = new URL(opts.inspectorUrl); } catch { usage('--inspector-url is not a URL'); }
try { serverUrl = new URL(opts.serverUrl); } catch { usage('--server-url is not a URL'); }
if (!/^[A-Za-z0-9_-]+$/.test(opts.serverId)) usage('--server-id: letters, digits, "-" and "_" only (the Inspector\'s rule)');
if (opts.message.trim() === '') usage('--message is empty');

const env = process.env;
const TOKEN_PARAM = 'MCP_INSPECTOR_API_TOKEN';
const apiToken = uiUrl.searchParams.get(TOKEN_PARAM) || env.INSPECTOR_API_TOKEN || '';
if (apiToken && !uiUrl.searchParams.has(TOKEN_PARAM)) uiUrl.searchParams.set(TOKEN_PARAM, apiToken);
const loginUser = env.LOGIN_USER || 'mcp-user';
const loginPassword = env.LOGIN_PASSWORD || 'user123';
const timeoutMs = Number(env.INSPECTOR_TIMEOUT_MS || 120000);
const screenshotPath = env.INSPECTOR_SCREENSHOT || '';
const executablePath = env.INSPECTOR_CHROMIUM || '/usr/bin/chromium';
const debug = Boolean(env.INSPECTOR_DEBUG);
if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) usage('INSPECTOR_TIMEOUT_MS must be a positive number');

let chromium;
try {
  // playwright-core lives with the login driver in scripts/browser (scripts/browser/install.sh).
  ({ chromium } = createRequire(join(HERE, '..', 'browser', 'package.json'))('playwright-core'));
} catch {
  process.stderr.write(`${PROG}: playwright-core is not installed: run bash scripts/browser/install.sh\n`);
  process.exit(2);
}
if (!existsSync(executablePath)) {
  process.stderr.write(`${PROG}: ${executablePath} is missing (Debian: apt-get install -y chromium)\n`);
  process.exit(2);
}

// ------------------------------------------------------------------ output and redaction

const secrets = new Set(); // every secret value seen so far; printed as its first 6 characters + "…"
const keep = (value) => { if (typeof value === 'string' && value.length >= 4) secrets.add(value); };
keep(apiToken);
keep(loginPassword);
const short = (value) => `${String(value).slice(0, 6)}…`;

const SECRET_PARAMS = /([?&#]|\b)(code|state|session_state|code_verifier|access_token|refresh_token|id_token|MCP_INSPECTOR_API_TOKEN)=([^&#\s"'\\]+)/gi;
function redact(text) {
  let s = String(text);
  for (const secret of secrets) s = s.split(secret).join(short(secret));
  s = s.replace(SECRET_PARAMS, (all, sep, name, value) => (value.length > 6 && !value.endsWith('…') ? `${sep}${name}=${short(value)}` : all));
  s = s.replace(/eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*/g, (jwt) => short(jwt));
  s = s.replace(/(Bearer\s+)([A-Za-z0-9._~+/=-]{7,})/g, (all, b, v) => `${b}${short(v)}`);
  return s;
}
const line = (text) => process.stdout.write(`${redact(text)}\n`);
const note = (text) => line(`# ${text}`);
const show = (value) => JSON.stringify(value);
const t0 = Date.now();
const secs = () => ((Date.now() - t0) / 1000).toFixed(1);
const dbg = (text) => { if (debug) process.stderr.write(`${PROG}: [${secs()} s] ${redact(text)}\n`); };

class StepFailure extends Error {
  constructor(step, why) { super(why); this.step = step; }
}
let currentStep = 'start';
const ok = (step, what) => line(`ok - ${step}: ${what}`);

const deadline = t0 + timeoutMs;
const remaining = () => Math.max(1, deadline - Date.now());
const within = (ms) => Math.min(ms, remaining());

// ------------------------------------------------------------------ what the page's /api calls show

// Filled by the response listener; read by the steps.
const seen = {
  apiRefused: null, // first /api answer 401 (wrong or missing API token)
  challenge: null, // { httpStatus, wwwAuthenticate, requiredScopes } from /api/mcp/connect or /send
  fetches: [], // every /api/fetch: { url, method, body, status, resJson, resBody, error }
  transportErrors: [], // /api/mcp/send or /connect errors other than auth challenges
  serverSaved: 0, // PUT /api/servers/<id> answered 200
};

function parseJson(text) {
  try { return JSON.parse(text); } catch { return undefined; }
}

async function onResponse(response) {
  let url;
  try { url = new URL(response.url()); } catch { return; }
  if (url.origin !== uiUrl.origin || !url.pathname.startsWith('/api/')) return;
  const request = response.request();
  const status = response.status();
  const path = url.pathname;
  if (status === 401 && !seen.apiRefused) seen.apiRefused = `${request.method()} ${path}`;
  if (path.endsWith('/events')) { dbg(`${request.method()} ${path} → ${status} (stream)`); return; }
  // The page's storage holds the OAuth state (tokens, PKCE verifier): never looked into.
  if (path.startsWith('/api/storage/')) { dbg(`${request.method()} ${path} → ${status}`); return; }
  let text = '';
  try { text = await response.text(); } catch { /* the page went away */ }
  const body = parseJson(text);
  if (request.method() === 'PUT' && path === `/api/servers/${opts.serverId}` && status === 200) seen.serverSaved++;
  if (path === '/api/mcp/connect' || path === '/api/mcp/send') {
    if (body?.kind === 'auth_challenge' && !seen.challenge) {
      const c = body.authChallenge ?? {};
      seen.challenge = {
        httpStatus: c.raw?.httpStatus,
        wwwAuthenticate: c.raw?.wwwAuthenticate,
        requiredScopes: c.requiredScopes,
      };
    } else if (body?.kind === 'transport_error' || (status >= 400 && body?.error)) {
      seen.transportErrors.push(`${path}: ${body.error ?? show(body)}`);
    }
  }
  if (path === '/api/fetch') {
    const req = parseJson(request.postData() ?? '') ?? {};
    // The OAuth bodies carry secrets: remember them before anything could print them.
    const form = new URLSearchParams(typeof req.body === 'string' ? req.body : '');
    keep(form.get('code')); keep(form.get('code_verifier')); keep(form.get('refresh_token'));
    const resBody = typeof body?.body === 'string' ? body.body : undefined;
    const resJson = resBody !== undefined ? parseJson(resBody) : undefined;
    if (resJson) { keep(resJson.access_token); keep(resJson.refresh_token); keep(resJson.id_token); keep(resJson.registration_access_token); }
    seen.fetches.push({
      url: req.url,
      method: (req.method ?? 'GET').toUpperCase(),
      body: req.body,
      status: body?.status,
      resJson,
      resBody,
      error: body?.error,
    });
  }
  dbg(`${request.method()} ${path} → ${status} ${text.slice(0, 300)}`);
}

const fetchesTo = (pred) => seen.fetches.filter(pred);
const isPrm = (f) => /\/\.well-known\/oauth-protected-resource/.test(f.url ?? '');
const isAsMeta = (f) => /\/\.well-known\/(oauth-authorization-server|openid-configuration)/.test(f.url ?? '');
const asMeta = () => fetchesTo(isAsMeta).find((f) => f.status === 200 && f.resJson?.issuer);
const isRegistration = (f) => f.method === 'POST' && (
  (asMeta()?.resJson?.registration_endpoint && f.url === asMeta().resJson.registration_endpoint) ||
  (typeof f.body === 'string' && /"redirect_uris"/.test(f.body)));
const isTokenRequest = (f) => f.method === 'POST' && typeof f.body === 'string' && /(^|&)grant_type=/.test(f.body);

// ------------------------------------------------------------------ the browser

let browser;
let page;

// The server's card in the catalog: the bordered panel holding its drag handle.
const card = () => page.locator('[data-with-border="true"]')
  .filter({ has: page.getByRole('button', { name: `Reorder ${opts.serverId}`, exact: true }) }).last();

async function cardStatus() {
  for (const s of ['Connected', 'Connecting', 'Failed', 'Disconnected']) {
    if (await card().getByText(s, { exact: true }).count().catch(() => 0)) return s;
  }
  return '';
}

// The Inspector's notifications ("Failed to connect to ..."), newest last.
async function failureAlerts() {
  const texts = await page.locator('[role=alert]').allInnerTexts().catch(() => []);
  return texts.map((t) => t.replace(/\s+/g, ' ').trim()).filter((t) => /^Failed|error/i.test(t));
}

async function screenshot() {
  if (!screenshotPath || !page) return;
  try {
    await page.screenshot({ path: screenshotPath, fullPage: true, timeout: 5000 });
    note(`screenshot of the last page: ${screenshotPath}`);
  } catch (e) {
    note(`could not save a screenshot: ${String(e.message).split('\n')[0]}`);
  }
}

function claims(jwt) {
  try {
    return JSON.parse(Buffer.from(String(jwt).split('.')[1], 'base64url').toString('utf8'));
  } catch {
    return {};
  }
}

const withoutQuery = (u) => { try { const x = new URL(u); return `${x.origin}${x.pathname}`; } catch { return String(u).split('?')[0]; } };

// Keycloak's pages (keycloak.v2 theme), as scripts/browser/login.mjs knows them.
async function keycloakPageKind() {
  const has = async (sel) => (await page.locator(sel).count().catch(() => 0)) > 0;
  if (await has('#kc-oauth, form button[name=accept]')) return 'consent';
  if (await has('#kc-form-login, form:has(input[name=password])')) return 'login';
  if (await has('#kc-error-message')) return 'error';
  return 'other';
}

async function keycloakMessage() {
  for (const sel of ['#input-error-username', '#input-error', '.pf-v5-c-alert__title', '.kc-feedback-text', '#kc-error-message']) {
    const loc = page.locator(sel).first();
    if (await loc.isVisible().catch(() => false)) {
      const text = (await loc.innerText().catch(() => '')).replace(/\s+/g, ' ').trim();
      if (text) return text;
    }
  }
  return '';
}

// Clicks and waits for the next document (Keycloak's pages submit forms; the last one redirects
// to the Inspector's callback).
async function clickAndWaitForLoad(locator) {
  const loaded = page.waitForEvent('load', { timeout: within(30000) }).catch(() => null);
  await locator.click({ timeout: within(15000) });
  await loaded;
}

// ------------------------------------------------------------------ the steps

async function openUi() {
  currentStep = 'Inspector UI';
  const response = await page.goto(uiUrl.href, { waitUntil: 'load', timeout: within(30000) });
  if (!response || response.status() !== 200) {
    throw new StepFailure(currentStep, `GET ${withoutQuery(uiUrl.href)} → ${response ? response.status() : 'no answer'}`);
  }
  await page.getByRole('button', { name: 'Add Servers' }).waitFor({ timeout: within(20000) })
    .catch(() => { throw new StepFailure(currentStep, `no "Add Servers" button on ${withoutQuery(uiUrl.href)}`); });
  await page.waitForTimeout(500);
  if (seen.apiRefused) {
    throw new StepFailure(currentStep, `the Inspector's API refused the page (${seen.apiRefused} → 401): ` +
      `${apiToken ? 'wrong' : 'no'} API token (MCP_INSPECTOR_API_TOKEN in the URL or INSPECTOR_API_TOKEN)`);
  }
  const version = (await page.getByText(/^v\d+\.\d+\.\d+\S*$/).first().innerText({ timeout: within(5000) }).catch(() => '?')).trim();
  ok(currentStep, `MCP Inspector ${version} at ${withoutQuery(uiUrl.href)} (API token ${apiToken ? short(apiToken) : 'none'})`);
  if (await card().count()) {
    throw new StepFailure(currentStep, `the catalog already has a server "${opts.serverId}": use a fresh Inspector ` +
      '(it also keeps OAuth tokens per server URL while it runs) or another --server-id');
  }
}

async function addServer() {
  currentStep = 'add server';
  await page.getByRole('button', { name: 'Add Servers' }).click({ timeout: within(10000) });
  await page.getByRole('menuitem', { name: /Add manually/ }).click({ timeout: within(10000) });
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Server ID').fill(opts.serverId, { timeout: within(10000) });
  await dialog.getByLabel('Transport').click({ timeout: within(10000) });
  await page.getByRole('option', { name: 'streamable-http', exact: true }).click({ timeout: within(10000) });
  await dialog.getByLabel('URL').fill(serverUrl.href, { timeout: within(10000) });
  await dialog.getByRole('button', { name: 'Add', exact: true }).click({ timeout: within(10000) });
  await card().waitFor({ timeout: within(10000) })
    .catch(() => { throw new StepFailure(currentStep, `no card for "${opts.serverId}" after "Add"`); });
  const transport = (await card().innerText()).includes('Streamable HTTP') ? 'Streamable HTTP' : '(transport not shown)';
  ok(currentStep, `"${opts.serverId}", ${transport}, ${serverUrl.href}`);
}

async function oauthSettings() {
  currentStep = 'OAuth Settings';
  await card().getByRole('button', { name: 'Settings', exact: true }).click({ timeout: within(10000) });
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('button', { name: 'OAuth Settings' }).click({ timeout: within(10000) });
  const redirectUri = await dialog.getByRole('textbox', { name: 'Redirect URI', exact: true }).inputValue({ timeout: within(10000) });
  if (opts.clientId) {
    const before = seen.serverSaved;
    await dialog.getByRole('textbox', { name: 'Client ID', exact: true }).fill(opts.clientId, { timeout: within(10000) });
    const saveBy = Date.now() + within(10000);
    while (seen.serverSaved === before && Date.now() < saveBy) await page.waitForTimeout(100);
    if (seen.serverSaved === before) throw new StepFailure(currentStep, 'the Client ID was not saved (no PUT /api/servers/ID answered 200)');
    ok(currentStep, `client ID ${opts.clientId} (pre-registered: no dynamic registration), redirect URI ${redirectUri}`);
  } else {
    ok(currentStep, `no client ID (the Inspector registers itself, RFC 7591), redirect URI ${redirectUri}`);
  }
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden', timeout: within(5000) }).catch(() => {});
  return redirectUri;
}

// Switches the server on and follows the whole OAuth flow, printing each step once it has
// happened. Returns when the card says Connected.
async function connect(redirectUri) {

  // The steps in the order they happen; each printed once its evidence is in.
  const done = new Set();
  const kc = { loginSubmitted: false, consentAnswered: false };
  let authUrl = null;
  let callbackUrl = null;

  const steps = [
    ['401 challenge', () => {
      if (!seen.challenge) return null;
      const c = seen.challenge;
      return `POST ${serverUrl.href} (no token) → ${c.httpStatus}, WWW-Authenticate: ${c.wwwAuthenticate}`;
    }],
    ['protected resource metadata', () => {
      const f = fetchesTo(isPrm).find((x) => x.status !== undefined || x.error);
      if (!f) return null;
      if (f.status !== 200) throw new StepFailure('protected resource metadata', `GET ${f.url} → ${f.status ?? f.error}`);
      return `GET ${f.url} → 200 (through the Inspector's /api/fetch), resource ${f.resJson?.resource}, ` +
        `authorization_servers ${show(f.resJson?.authorization_servers)}`;
    }],
    ['authorization server metadata', () => {
      const f = asMeta();
      if (!f) return null;
      return `GET ${f.url} → 200, issuer ${f.resJson.issuer}, registration_endpoint ${f.resJson.registration_endpoint ?? '(none)'}`;
    }],
    ['registration', () => {
      const f = fetchesTo(isRegistration).find((x) => x.status !== undefined || x.error);
      if (!f) {
        // With a pre-registered client there is no registration: the authorization request shows it.
        if (opts.clientId && authUrl) return `none (client ID ${opts.clientId} from OAuth Settings)`;
        return null;
      }
      note(`registration request body (the Inspector's client metadata): ${f.body}`);
      if (opts.clientId) throw new StepFailure('registration', `the Inspector registered a client although a client ID was set (POST ${f.url} → ${f.status})`);
      if (f.status !== 201 && f.status !== 200) {
        const meta = parseJson(f.body ?? '') ?? {};
        const err = f.resJson ? `${f.resJson.error}: ${show(f.resJson.error_description)}` : (f.resBody ?? f.error);
        throw new StepFailure('registration', `POST ${f.url} → ${f.status} ${err}; ` +
          `the Inspector sent client_uri ${show(meta.client_uri)}, redirect_uris ${show(meta.redirect_uris)}, scope ${show(meta.scope)}`);
      }
      return `POST ${f.url} → ${f.status}, client_id ${f.resJson?.client_id}, token_endpoint_auth_method ${f.resJson?.token_endpoint_auth_method}`;
    }],
    ['authorization request', () => {
      if (!authUrl) return null;
      const u = new URL(authUrl);
      const p = (k) => u.searchParams.get(k);
      keep(p('state'));
      return `${u.origin}${u.pathname} (client_id ${p('client_id')}, redirect_uri ${p('redirect_uri')}, ` +
        `code_challenge_method ${p('code_challenge_method')}, resource ${p('resource')}, scope ${show(p('scope'))}, state ${short(p('state') ?? '')})`;
    }],
    ['Keycloak login page', () => {
      if (kc.loginSubmitted && (kc.consentAnswered || callbackUrl)) return `signed in as ${loginUser}`;
      return callbackUrl ? 'not shown (an existing Keycloak session)' : null;
    }],
    ['Keycloak consent page', () => {
      if (!callbackUrl) return null;
      return kc.consentAnswered ? 'accepted' : 'not shown (Keycloak remembered the consent)';
    }],
    ['callback', () => {
      if (!callbackUrl) return null;
      const u = new URL(callbackUrl);
      if (u.searchParams.get('error')) {
        throw new StepFailure('callback', `${withoutQuery(callbackUrl)} with error=${u.searchParams.get('error')} ${show(u.searchParams.get('error_description'))}`);
      }
      keep(u.searchParams.get('code')); keep(u.searchParams.get('state')); keep(u.searchParams.get('session_state'));
      const want = redirectUri ? (withoutQuery(callbackUrl) === redirectUri ? ' (the redirect URI)' : ` (expected ${redirectUri})`) : '';
      return `${withoutQuery(callbackUrl)}${want} with code ${short(u.searchParams.get('code') ?? '')}, ` +
        `state ${short(u.searchParams.get('state') ?? '')}, iss ${u.searchParams.get('iss') ?? '(none)'}`;
    }],
    ['token request', () => {
      const f = fetchesTo(isTokenRequest).find((x) => /grant_type=authorization_code/.test(x.body) && (x.status !== undefined || x.error));
      if (!f) return null;
      const form = new URLSearchParams(f.body);
      if (f.status !== 200) {
        throw new StepFailure('token request', `POST ${f.url} → ${f.status ?? f.error} ${f.resJson ? `${f.resJson.error}: ${show(f.resJson.error_description)}` : ''}`);
      }
      const at = f.resJson?.access_token ?? '';
      const c = claims(at);
      return `POST ${f.url} (grant_type authorization_code, code_verifier ${short(form.get('code_verifier') ?? '')}, ` +
        `resource ${form.get('resource') ?? '(none)'}) → 200: access token ${short(at)}, aud ${show(c.aud)}, azp ${c.azp}, scope ${show(c.scope)}`;
    }],
  ];

  const printReady = () => {
    for (const [name, evidence] of steps) {
      if (done.has(name)) continue;
      currentStep = name;
      const what = evidence();
      if (what === null) return; // the next step has not happened yet
      ok(name, what);
      done.add(name);
    }
    currentStep = 'connected';
  };

  page.on('framenavigated', (frame) => {
    if (frame !== page.mainFrame()) return;
    const u = frame.url();
    dbg(`page ${u}`);
    let x;
    try { x = new URL(u); } catch { return; }
    if (!authUrl && x.origin !== uiUrl.origin && x.searchParams.has('response_type')) authUrl = u;
    if (!callbackUrl && x.origin === uiUrl.origin && x.pathname === '/oauth/callback') callbackUrl = u;
  });

  currentStep = 'connect';
  await card().getByRole('switch').click({ force: true, timeout: within(10000) });
  ok(currentStep, `switched "${opts.serverId}" on`);

  for (;;) {
    printReady();
    if (Date.now() >= deadline) {
      throw new StepFailure(currentStep, `no progress within ${timeoutMs} ms (card says ${show(await cardStatus())}, page ${withoutQuery(page.url())})`);
    }
    let here;
    try { here = new URL(page.url()); } catch { here = null; }
    if (here && here.origin !== uiUrl.origin && /^https?:$/.test(here.protocol)) {
      // On the authorization server's pages: sign in, accept consent.
      await page.waitForLoadState('domcontentloaded', { timeout: within(15000) }).catch(() => {});
      const kind = await keycloakPageKind();
      if (kind === 'login') {
        currentStep = 'Keycloak login page';
        if (kc.loginSubmitted) {
          const msg = await keycloakMessage();
          throw new StepFailure(currentStep, `the login form came back${msg ? `: Keycloak says ${show(msg)}` : ''}`);
        }
        await page.locator('#username, input[name=username]').first().fill(loginUser, { timeout: within(10000) });
        await page.locator('#password, input[name=password]').first().fill(loginPassword, { timeout: within(10000) });
        kc.loginSubmitted = true;
        await clickAndWaitForLoad(page.locator('#kc-login, form:has(input[name=password]) [type=submit]').first());
      } else if (kind === 'consent') {
        currentStep = 'Keycloak consent page';
        if (kc.consentAnswered) throw new StepFailure(currentStep, 'the consent page came back');
        kc.consentAnswered = true;
        await clickAndWaitForLoad(page.locator('#kc-oauth button[name=accept], form button[name=accept], #kc-login').first());
      } else if (kind === 'error') {
        throw new StepFailure(currentStep, `Keycloak shows an error page: ${show(await keycloakMessage())} (${withoutQuery(page.url())})`);
      } else {
        await page.waitForTimeout(300);
        if (new URL(page.url()).origin !== uiUrl.origin && (await keycloakPageKind()) === 'other') {
          throw new StepFailure(currentStep, `unexpected page ${withoutQuery(page.url())}, title ${show(await page.title().catch(() => ''))}`);
        }
      }
      continue;
    }
    const alerts = await failureAlerts();
    if (alerts.length) {
      printReady(); // the step that failed throws with its own evidence, if it has some
      throw new StepFailure(currentStep, `the Inspector says ${show(alerts[alerts.length - 1])}`);
    }
    const status = await cardStatus();
    if (status === 'Failed') {
      printReady();
      throw new StepFailure(currentStep, `the card says Failed${seen.transportErrors.length ? ` (${seen.transportErrors.at(-1)})` : ''}`);
    }
    if (status === 'Connected') {
      printReady();
      if (!authUrl) {
        throw new StepFailure('authorization request', 'the Inspector connected without an authorization request: it reused OAuth ' +
          `tokens it had stored for ${serverUrl.href} (use a fresh Inspector)`);
      }
      if (!done.has('token request')) throw new StepFailure(currentStep, 'connected, but no token request was seen');
      break;
    }
    await page.waitForTimeout(250);
  }

  currentStep = 'connected';
  const text = (await card().innerText()).replace(/\s+/g, ' ');
  const version = text.match(/MCP (\d{4}-\d{2}-\d{2})/)?.[1] ?? '(version not shown)';
  const name = (await page.locator('header p, header h1, header h2').first().innerText().catch(() => '')).trim();
  ok(currentStep, `the card says Connected, MCP ${version}${name ? `, server ${show(name)}` : ''}`);
}

async function listTools() {
  currentStep = 'tools/list';
  // The header's Servers / Tools / Prompts switch (radio inputs drawn as a segmented control).
  await page.locator('label').filter({ has: page.getByText('Tools', { exact: true }) }).first().click({ timeout: within(10000) });
  const heading = page.getByRole('heading', { name: /^Tools \(\d+\)$/ });
  await heading.waitFor({ timeout: within(15000) })
    .catch(() => { throw new StepFailure(currentStep, 'the Tools tab shows no "Tools (N)" list'); });
  const items = await page.locator('button[data-variant="listItem"]').allInnerTexts();
  const names = items.map((t) => t.trim().split('\n').map((s) => s.trim()).filter(Boolean).at(-1)).filter(Boolean);
  const missing = ['echo', 'whoami'].filter((n) => !names.includes(n));
  if (missing.length) throw new StepFailure(currentStep, `tools ${show(names)}, missing ${missing.join(', ')}`);
  ok(currentStep, `${(await heading.innerText()).trim()}: ${names.join(', ')}`);
}

async function callEcho() {
  currentStep = 'tools/call echo';
  await page.locator('button[data-variant="listItem"]').filter({ has: page.getByText('echo', { exact: true }) })
    .click({ timeout: within(10000) });
  await page.getByRole('textbox', { name: 'message', exact: true }).fill(opts.message, { timeout: within(10000) });
  await page.getByRole('button', { name: 'Execute Tool' }).click({ timeout: within(10000) });
  const results = page.getByRole('heading', { name: 'Results', exact: true });
  await results.waitFor({ timeout: within(15000) }).catch(async () => {
    const alerts = await failureAlerts();
    throw new StepFailure(currentStep, `no Results${alerts.length ? `; the Inspector says ${show(alerts.at(-1))}` : ''}`);
  });
  const first = (await results.locator('xpath=following::pre[1]').innerText({ timeout: within(5000) }).catch(() => '')).trim();
  if (first !== opts.message) throw new StepFailure(currentStep, `Results show ${show(first)}, expected ${show(opts.message)}`);
  ok(currentStep, `{"message": ${show(opts.message)}} → Results ${show(first)}`);
}

// ------------------------------------------------------------------ main

let exitCode = 0;
const watchdog = setTimeout(() => {
  line(`not ok - ${currentStep}: no result within ${timeoutMs} ms (hard stop)`);
  line(`inspector flow stopped at ${currentStep}`);
  process.exit(1);
}, timeoutMs + 15000);
watchdog.unref();

try {
  browser = await chromium.launch({
    executablePath,
    headless: true,
    timeout: within(30000),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(30000);
  page.on('response', (r) => { onResponse(r).catch(() => {}); });
  if (debug) page.on('console', (m) => dbg(`console ${m.type()}: ${m.text().slice(0, 400)}`));

  await openUi();
  await addServer();
  const redirectUri = await oauthSettings();
  await connect(redirectUri);
  await listTools();
  await callEcho();
  line('inspector flow complete');
} catch (e) {
  exitCode = 1;
  const step = e instanceof StepFailure ? e.step : currentStep;
  const why = e instanceof StepFailure ? e.message : `${e?.name ?? 'Error'}: ${String(e?.message ?? e).split('\n')[0]}`;
  line(`not ok - ${step}: ${why}`);
  if (page) {
    const status = await cardStatus().catch(() => '');
    if (status) note(`the card says ${status}`);
    for (const a of await failureAlerts().catch(() => [])) note(`the Inspector's notification: ${a}`);
  }
  await screenshot();
  line(`inspector flow stopped at ${step}`);
} finally {
  if (browser) await browser.close().catch(() => {});
}
process.exit(exitCode);
