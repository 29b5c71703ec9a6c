#!/usr/bin/env node
// Headless-browser "person" for the tutorial's tests: opens an OAuth authorization URL in
// headless Chromium, logs in on Keycloak's own login page, answers Keycloak's consent page,
// and lets the browser follow the redirect back to the client.
//
//   $BROWSER mode:  node scripts/browser/login.mjs "<authorization URL>"
//       The client listens on its loopback redirect URI; the browser really navigates there.
//       Exit 0 once the browser has left Keycloak's origin and the redirect target answered.
//   capture mode:   node scripts/browser/login.mjs --capture http://127.0.0.1:PORT/callback "<URL>"
//       Requests whose URL starts with the prefix are answered by the driver itself with a
//       small 200 page, and the full redirect URL (code, state, iss, or error) is printed on
//       stdout as one line. Nothing needs to listen on PORT.
//
// Environment: LOGIN_USER, LOGIN_PASSWORD (required), LOGIN_CONSENT=accept|deny (default
// accept), LOGIN_TIMEOUT_MS (default 30000), LOGIN_SCREENSHOT=file.png (optional, the last
// page), LOGIN_CHROMIUM (default /usr/bin/chromium), LOGIN_DEBUG=1 (each navigation on
// stderr, codes redacted).
//
// The file is executable, so it can be the $BROWSER itself:
//   BROWSER=/path/to/scripts/browser/login.mjs LOGIN_USER=mcp-user LOGIN_PASSWORD=... some-cli login
//
// Exit codes: 0 redirect reached; 1 login failed / unexpected page / timeout; 2 usage error.
// Failures are one line on stderr starting with "login failed:". The password is never
// printed, and authorization codes are redacted from every message on stderr. A rejected
// password is never retried: the driver gives up at once.

import { existsSync } from 'node:fs';

const PROG = 'login.mjs';

class Failure extends Error {}

function usage(msg) {
  if (msg) process.stderr.write(`${PROG}: ${msg}\n`);
  process.stderr.write(
    `usage: node ${PROG} [--capture URL_PREFIX] AUTHORIZATION_URL\n` +
    '  env: LOGIN_USER, LOGIN_PASSWORD (required), LOGIN_CONSENT=accept|deny,\n' +
    '       LOGIN_TIMEOUT_MS (30000), LOGIN_SCREENSHOT=file.png, LOGIN_CHROMIUM (/usr/bin/chromium),\n' +
    '       LOGIN_DEBUG=1\n');
  process.exit(2);
}

// ---------------------------------------------------------------- arguments and environment

function parseArgs(argv) {
  let capture = null;
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') usage();
    else if (a === '--capture') {
      if (i + 1 >= argv.length) usage('--capture needs a URL prefix');
      capture = argv[++i];
    } else if (a.startsWith('--capture=')) capture = a.slice('--capture='.length);
    else if (a === '--') rest.push(...argv.slice(i + 1)), (i = argv.length);
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else rest.push(a);
  }
  if (rest.length !== 1) usage(rest.length ? 'expected exactly one authorization URL' : 'missing the authorization URL');
  let authUrl;
  try {
    authUrl = new URL(rest[0]);
  } catch {
    usage('the authorization URL is not a URL');
  }
  if (capture !== null) {
    try {
      new URL(capture);
    } catch {
      usage('--capture needs an absolute URL prefix such as http://127.0.0.1:PORT/callback');
    }
  }
  return { authUrl, capture };
}

const env = process.env;
const { authUrl, capture } = parseArgs(process.argv.slice(2));
const user = env.LOGIN_USER ?? '';
const password = env.LOGIN_PASSWORD ?? '';
const consent = (env.LOGIN_CONSENT || 'accept').toLowerCase();
const timeoutMs = Number(env.LOGIN_TIMEOUT_MS || 30000);
const screenshot = env.LOGIN_SCREENSHOT || '';
const executablePath = env.LOGIN_CHROMIUM || '/usr/bin/chromium';
const debug = Boolean(env.LOGIN_DEBUG);
if (!user || !password) usage('LOGIN_USER and LOGIN_PASSWORD must be set');
if (consent !== 'accept' && consent !== 'deny') usage('LOGIN_CONSENT must be accept or deny');
if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) usage('LOGIN_TIMEOUT_MS must be a positive number of milliseconds');

// Clear one-line messages instead of a stack trace when the setup is incomplete.
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch {
  process.stderr.write('login failed: playwright-core is not installed: run bash scripts/browser/install.sh\n');
  process.exit(1);
}
if (!existsSync(executablePath)) {
  process.stderr.write(`login failed: ${executablePath} is missing: apt-get install -y chromium (Debian's package)\n`);
  process.exit(1);
}

// Keycloak's origin is the authorization URL's. The redirect target is any URL on another
// origin, or the redirect_uri the request names (in case a client lives on Keycloak's origin).
const keycloakOrigin = authUrl.origin;
const redirectUri = authUrl.searchParams.get('redirect_uri');
const redirectBase = redirectUri ? redirectUri.split(/[?#]/)[0] : null;

function isRedirectTarget(url) {
  if (!/^https?:/i.test(url)) return false;
  if (capture !== null && url.startsWith(capture)) return true;
  if (redirectBase && url.startsWith(redirectBase)) return true;
  try {
    return new URL(url).origin !== keycloakOrigin;
  } catch {
    return false;
  }
}

// Never print the password, nor authorization codes / tokens carried in URLs.
function redact(text) {
  let s = String(text);
  // (A one- to three-character password would mask half of every message; none of the
  // messages below contains it anyway: this is a second line of defence.)
  if (password.length >= 4) s = s.split(password).join('***');
  return s.replace(/([?&#](?:code|access_token|id_token|refresh_token)=)[^&#\s'"]*/gi, '$1<redacted>');
}

function withoutQuery(url) {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return String(url).split(/[?#]/)[0];
  }
}

// ---------------------------------------------------------------- the browser

const started = Date.now();
const deadline = started + timeoutMs;
const remaining = () => Math.max(1, deadline - Date.now());
const secs = () => ((Date.now() - started) / 1000).toFixed(1);

let browser;
let page;
let consentShown = false; // Keycloak showed its consent page (and the driver answered it)
let reached = null; // { url, request } once the browser navigates to the redirect target
let resolveReached;
const reachedPromise = new Promise((r) => { resolveReached = r; });

function noteTarget(url, request) {
  if (reached) return;
  reached = { url, request };
  resolveReached(reached);
}

// Text of Keycloak's message on the current page (login.ftl field error, template.ftl alert,
// error.ftl), first visible one wins. Keycloak 26's keycloak.v2 theme puts "Invalid username
// or password." in #input-error-username > .kc-feedback-text.
const MESSAGE_SELECTORS = [
  '#input-error-username',
  '#input-error-password',
  '#input-error',
  '.pf-v5-c-alert .kc-feedback-text',
  '.pf-v5-c-alert__title',
  '.kc-feedback-text',
  '.alert-error',
  '#kc-error-message .instruction',
  '#kc-error-message',
  '[role=alert]',
];

async function keycloakMessage() {
  for (const sel of MESSAGE_SELECTORS) {
    const loc = page.locator(sel);
    const n = await loc.count().catch(() => 0);
    for (let i = 0; i < n; i++) {
      const el = loc.nth(i);
      if (!(await el.isVisible().catch(() => false))) continue;
      const text = (await el.innerText().catch(() => '')).replace(/\s+/g, ' ').trim();
      if (text) return text;
    }
  }
  return '';
}

async function pageKind() {
  const has = async (sel) => (await page.locator(sel).count().catch(() => 0)) > 0;
  if (await has('#kc-oauth, form button[name=accept]')) return 'consent';
  if (await has('#kc-form-login, form:has(input[name=password])')) return 'login';
  if (await has('#kc-error-message')) return 'error';
  return 'other';
}

// Resolves once a new document has loaded in the page, or once the redirect target is
// reached, whichever comes first. (Not 'framenavigated': Keycloak's pages call
// history.replaceState to drop session_code from the address, a same-document navigation
// that would be taken for the next page.)
function nextPage() {
  const loaded = page.waitForEvent('load', { timeout: remaining() }).then(() => 'page');
  return Promise.race([loaded, reachedPromise.then(() => 'reached')]);
}

// Clicks a submit button and waits for the next page. Playwright's click waits for the
// navigation it starts to commit, which a redirect target that never answers would hold up:
// reaching the target ends the wait too.
async function clickAndWait(locator) {
  const next = nextPage();
  const click = locator.click({ timeout: remaining() });
  await Promise.race([click.then(() => next), reachedPromise]);
}

async function describePage() {
  const title = (await page.title().catch(() => '')).trim();
  const msg = await keycloakMessage();
  const parts = [`${withoutQuery(page.url())}`];
  if (title) parts.push(`title '${title}'`);
  if (msg) parts.push(`Keycloak says '${msg}'`);
  return parts.join(', ');
}

async function drive() {
  browser = await chromium.launch({
    executablePath,
    headless: true,
    timeout: remaining(),
    // Playwright gives every launch a fresh temporary profile (user-data-dir) and removes it
    // on close. The background-networking flags keep Chromium from dialling out, which this
    // closed network refuses.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
    ],
  });
  const context = await browser.newContext();
  page = await context.newPage();
  page.setDefaultTimeout(timeoutMs);
  page.setDefaultNavigationTimeout(timeoutMs);

  if (debug) {
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) process.stderr.write(`${PROG}: [${secs()} s] page ${redact(f.url())}\n`);
    });
    page.on('request', (r) => {
      if (r.isNavigationRequest()) process.stderr.write(`${PROG}: [${secs()} s] request ${r.method()} ${redact(r.url())}\n`);
    });
    page.on('response', (r) => {
      if (r.request().isNavigationRequest()) process.stderr.write(`${PROG}: [${secs()} s] ${r.request().method()} ${redact(r.url())} -> ${r.status()}\n`);
    });
  }
  // Every main-frame navigation request (redirect hops included) is checked for the target.
  page.on('request', (req) => {
    if (req.frame() === page.mainFrame() && req.isNavigationRequest() && isRedirectTarget(req.url())) {
      noteTarget(req.url(), req);
    }
  });
  if (capture !== null) {
    await page.route((u) => u.href.startsWith(capture), async (route) => {
      const req = route.request();
      if (req.isNavigationRequest()) noteTarget(req.url(), req);
      await route.fulfill({
        status: 200,
        contentType: 'text/html; charset=utf-8',
        body: '<!doctype html><html><head><title>Captured</title></head><body><p>Authorization response captured by the test driver. You can close this window.</p></body></html>',
      });
    });
  }

  // Open the authorization URL. A navigation that ends at the redirect target (e.g. Keycloak
  // answers at once with an error redirect) is fine; anything else that fails is reported.
  const opened = await page
    .goto(authUrl.href, { waitUntil: 'load', timeout: remaining() })
    .then(() => null, (e) => e);
  if (opened && !reached) {
    throw new Failure(`could not open ${withoutQuery(authUrl.href)}: ${firstLine(opened.message)}`);
  }

  let loginSubmitted = false;
  let consentAnswered = false;
  while (!reached) {
    const kind = await pageKind();
    if (kind === 'login') {
      if (loginSubmitted) {
        // The login form came back: Keycloak rejected the credentials. Never retry.
        const msg = await keycloakMessage();
        throw new Failure(msg ? `Keycloak says '${msg}'` : `Keycloak showed the login form again (${await describePage()})`);
      }
      const userField = page.locator('#username, input[name=username]').first();
      const passField = page.locator('#password, input[name=password]').first();
      await userField.fill(user, { timeout: remaining() });
      await passField.fill(password, { timeout: remaining() });
      loginSubmitted = true;
      await clickAndWait(page
        .locator('#kc-login, form#kc-form-login [type=submit], form:has(input[name=password]) [type=submit]')
        .first());
    } else if (kind === 'consent') {
      if (consentAnswered) throw new Failure(`Keycloak showed the consent page again (${await describePage()})`);
      consentAnswered = true;
      consentShown = true;
      const button = consent === 'accept'
        ? page.locator('#kc-oauth button[name=accept], form button[name=accept], #kc-login').first()
        : page.locator('#kc-oauth button[name=cancel], form button[name=cancel], #kc-cancel').first();
      await clickAndWait(button);
    } else if (kind === 'error') {
      // error.ftl: e.g. 'Invalid parameter: redirect_uri', 'Page not found' (no such realm).
      const msg = await keycloakMessage();
      throw new Failure(msg
        ? `Keycloak shows an error page: '${msg}' (${withoutQuery(page.url())})`
        : `Keycloak shows an error page (${await describePage()})`);
    } else {
      // A required action (update password, OTP setup, ...), an expired page, or something
      // that is not Keycloak at all: a person would be stuck here too.
      throw new Failure(`unexpected page ${await describePage()}`);
    }
  }

  // The browser is on its way to the redirect target. In capture mode the route already
  // answered it; otherwise wait for the client's listener to answer and the page to load.
  const { request } = reached;
  let status = null;
  if (capture === null) {
    const outcome = await Promise.race([
      request.response().then((r) => ({ ok: true, r }), (e) => ({ ok: false, e })),
      new Promise((r) => setTimeout(() => r({ ok: false, timeout: true }), remaining())),
    ]);
    if (!outcome.ok || !outcome.r) {
      const why = outcome.timeout
        ? `no answer within ${timeoutMs} ms`
        : (request.failure()?.errorText || (outcome.e ? firstLine(outcome.e.message) : 'request failed'));
      throw new Failure(`the browser was redirected to ${withoutQuery(reached.url)} but it did not answer: ${why}`);
    }
    status = outcome.r.status();
    // Loaded, or at least the response is complete: either one is enough.
    await Promise.race([
      page.waitForLoadState('load', { timeout: remaining() }).catch(() => {}),
      outcome.r.finished().catch(() => {}),
    ]);
  }
  return status;
}

function firstLine(s) {
  return redact(String(s ?? '').split('\n')[0]);
}

async function saveScreenshot() {
  if (!screenshot || !page) return;
  try {
    await page.screenshot({ path: screenshot, fullPage: true, timeout: 5000 });
  } catch (e) {
    process.stderr.write(`${PROG}: could not save screenshot: ${firstLine(e.message)}\n`);
  }
}

let exitCode = 0;
// A hard stop in case Chromium itself hangs: the test relying on the driver giving up must
// never wait on it.
const watchdog = setTimeout(() => {
  process.stderr.write(`login failed: no result within ${timeoutMs} ms (hard stop)\n`);
  process.exit(1);
}, timeoutMs + 10000);
watchdog.unref();

try {
  const status = await drive();
  const target = new URL(reached.url);
  const error = target.searchParams.get('error');
  if (capture !== null) {
    process.stdout.write(`${reached.url}\n`);
  }
  const got = error
    ? `error=${error}`
    : (target.searchParams.has('code') ? 'a code' : `params ${[...target.searchParams.keys()].join(',') || 'none'}`);
  const consentNote = consentShown
    ? `, consent ${consent === 'accept' ? 'accepted' : 'denied'}`
    : (consent === 'deny' ? ', LOGIN_CONSENT=deny but Keycloak showed no consent page' : '');
  process.stderr.write(
    `${PROG}: ${user} ${capture !== null ? 'captured' : 'reached'} ${withoutQuery(reached.url)}` +
    `${status !== null ? ` (HTTP ${status})` : ''} with ${got}${consentNote} in ${secs()} s\n`);
} catch (e) {
  exitCode = 1;
  const msg = e instanceof Failure
    ? redact(e.message)
    : (e?.name === 'TimeoutError'
      ? `no result within ${timeoutMs} ms${page ? ` (last page ${withoutQuery(page.url())})` : ''}`
      : firstLine(e?.message ?? e));
  process.stderr.write(`login failed: ${msg}\n`);
} finally {
  await saveScreenshot();
  if (browser) await browser.close().catch(() => {});
}
process.exit(exitCode);
