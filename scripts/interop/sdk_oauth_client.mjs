#!/usr/bin/env node
// Interop check: the official MCP TypeScript SDK v2 client (`@modelcontextprotocol/client`) doing
// the WHOLE OAuth 2.1 flow itself, with its own OAuthClientProvider seam, against step10 + Keycloak.
//
//   LOGIN_USER=mcp-user LOGIN_PASSWORD=... node scripts/interop/sdk_oauth_client.mjs
//        [--url http://localhost:9000/mcp] [--client-name NAME] [--message TEXT]
//        [--forbidden prompts/get] [--login scripts/browser/login.mjs]
//
// Nothing is given to the client but the MCP URL. The SDK (StreamableHTTPClientTransport with
// {authProvider}, Client with versionNegotiation {mode: 'auto'}) gets 401, discovers the protected
// resource metadata and the authorization server metadata, registers a client (RFC 7591) and
// builds the authorization URL (PKCE S256, resource, scope); this script only supplies what a host
// application must: an in-memory OAuthClientProvider, a loopback callback listener on 127.0.0.1
// (a free port), and a "browser": redirectToAuthorization starts the login driver
// (scripts/browser/login.mjs, headless Chromium on Keycloak's real login page, as LOGIN_USER with
// LOGIN_PASSWORD; LOGIN_CONSENT defaults to accept). The script checks the callback's state (the
// SDK does not) and hands code + iss to transport.finishAuth (the SDK checks iss, RFC 9207, and
// redeems the code). Then: tools/list, tools/call echo, and a call the granted scopes do not allow
// (--forbidden, default prompts/get, which step10 allows only with mcp:prompts; prompts/list
// is allowed with mcp:read too, src/auth/policy.rs): the SDK steps up (a second authorization round, for the
// union of the scopes), the person logs in again, Keycloak still does not grant the scope, and the
// retry, through a transport with onInsufficientScope 'throw' (the SDK leaves limiting step-up
// across requests to the host), must end in HTTP 403 + WWW-Authenticate: Bearer
// error="insufficient_scope", surfaced by the SDK as InsufficientScopeError.
//
// Prints one line per step ("ok - ..." / "not ok - ..."; "# ..." for context), then
// "N passed, M failed". No token, code, state or verifier is ever printed beyond its first
// 6 characters and "…"; the password never. Exit status: 0 all passed, 1 a check failed, 2 bad usage.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';

import {
  Client,
  InsufficientScopeError,
  StreamableHTTPClientTransport,
  UnauthorizedError
} from '@modelcontextprotocol/client';

import { Checks, describeError, parseFlags, show } from './harness.mjs';

const USAGE =
  'usage: LOGIN_USER=U LOGIN_PASSWORD=P sdk_oauth_client.mjs [--url URL] [--client-name NAME] [--message TEXT]\n' +
  '       [--forbidden prompts/get|prompts/list|tools/call] [--login PATH-TO-login.mjs]';
const MODERN = '2026-07-28';
const TIMEOUT_MS = 15_000;
const PERSON_TIMEOUT_MS = 60_000; // a browser login plus the redirect back

const { opts, usage } = parseFlags(process.argv.slice(2), {
  script: 'sdk_oauth_client',
  usageText: USAGE,
  known: {
    '--url': 'url',
    '--client-name': 'clientName',
    '--message': 'message',
    '--forbidden': 'forbidden',
    '--login': 'login'
  },
  defaults: {
    url: 'http://localhost:9000/mcp',
    clientName: 'interop-ts-oauth',
    message: 'hello from the TypeScript SDK',
    forbidden: 'prompts/get',
    login: fileURLToPath(new URL('../browser/login.mjs', import.meta.url))
  }
});
if (opts.clientName.trim() === '') usage('--client-name is empty');
if (!['prompts/list', 'prompts/get', 'tools/call'].includes(opts.forbidden)) usage(`--forbidden: not supported: ${opts.forbidden}`);
const PERSON = process.env.LOGIN_USER ?? '';
const PASSWORD = process.env.LOGIN_PASSWORD ?? '';
if (!PERSON || !PASSWORD) usage('LOGIN_USER and LOGIN_PASSWORD must be set (the person the login driver plays)');

// ------------------------------------------------------------------------------------ redaction
// Every secret this run handles (tokens, codes, states, verifiers, the password) is remembered
// here, and every line printed goes through redact(): a secret shows as its first 6 characters
// and "…". Unknown JWTs and Bearer values are cut the same way, as a second line of defence.
const secrets = new Set();
const remember = (s) => { if (typeof s === 'string' && s.length > 0) secrets.add(s); return s; };
const short = (s) => (typeof s === 'string' && s.length > 0 ? `${s.slice(0, 6)}…` : '(none)');
remember(PASSWORD);
function redact(text) {
  let s = String(text);
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    s = s.split(secret).join(secret === PASSWORD ? '***' : short(secret));
  }
  return s
    .replace(/eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, (m) => short(m))
    .replace(/(Bearer\s+)([A-Za-z0-9._~+/=-]{7,})/g, (_, b, v) => `${b}${short(v)}`)
    .replace(/([?&](?:code|state|access_token|refresh_token|id_token|code_verifier)=)([^&#\s"']{7,})/g,
      (_, k, v) => `${k}${short(v)}`);
}
const checks = new Checks(undefined);
checks.redact = redact;
const ok = (name) => checks.ok(redact(name));
const notOk = (name, why) => checks.notOk(redact(name), why);
const check = (name, cond, why) => (cond ? ok(name) : notOk(name, why), cond);
const note = (text) => console.log(redact(`# ${text}`));
// The SDK reports some recoveries with console.warn: keep them, redacted, as context lines.
console.warn = (...args) => note(`SDK warning: ${args.map(String).join(' ')}`);

const withoutQuery = (u) => { try { const x = new URL(u); return `${x.origin}${x.pathname}`; } catch { return String(u).split('?')[0]; } };

// ------------------------------------------------------------------ what went over the wire
// The transport uses this fetch for the MCP requests and for every OAuth request auth() makes
// (discovery, registration, token): method, URL (no query), status, WWW-Authenticate, and for
// MCP POSTs the JSON-RPC method and whether a bearer token was sent. No body is kept.
const exchanges = [];
async function recordingFetch(input, init) {
  const url = typeof input === 'string' ? input : (input instanceof URL ? input.href : input.url);
  const method = (init?.method ?? 'GET').toUpperCase();
  const headers = new Headers(init?.headers);
  let rpc;
  if (method === 'POST' && withoutQuery(url) === withoutQuery(opts.url)) {
    try { rpc = JSON.parse(String(init.body)).method; } catch { rpc = '(unparsed)'; }
  }
  const entry = { method, url: withoutQuery(url), rpc, bearer: /^Bearer /i.test(headers.get('authorization') ?? '') };
  exchanges.push(entry);
  const response = await fetch(input, init);
  entry.status = response.status;
  entry.wwwAuthenticate = response.headers.get('www-authenticate');
  return response;
}
let seen = 0; // exchanges[0..seen) are already accounted for
const since = () => { const out = exchanges.slice(seen); seen = exchanges.length; return out; };
const showExchange = (e) => `${e.method} ${e.url}${e.rpc ? ` ${e.rpc}` : ''}${e.bearer ? ' (Bearer)' : ''} → ${e.status}`;

// ---------------------------------------------------------------- the loopback callback listener
// One pending authorization response at a time: waitForCallback() resolves with the next
// GET /callback's parameters. Answers the browser with a small page either way.
let callbackWaiter = null;
const listener = createServer((req, res) => {
  const u = new URL(req.url, 'http://127.0.0.1');
  if (req.method !== 'GET' || u.pathname !== '/callback') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  const params = u.searchParams;
  remember(params.get('code')); remember(params.get('state'));
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    .end('<!doctype html><title>Signed in</title><p>The MCP client received the authorization response. You can close this window.</p>');
  const waiter = callbackWaiter;
  callbackWaiter = null;
  waiter?.resolve(params);
});
await new Promise((resolve, reject) => { listener.once('error', reject); listener.listen(0, '127.0.0.1', resolve); });
const REDIRECT_URL = `http://127.0.0.1:${listener.address().port}/callback`;

// ------------------------------------------------------------------ the "browser": login driver
// redirectToAuthorization must return promptly (the SDK is inside a request, with its timeout
// running): it starts the login driver and records the run; the host awaits it after the SDK
// has thrown UnauthorizedError, as an application awaits its callback.
let authorizationUrls = [];
let pendingLogin = null;
function startLogin(url) {
  const callback = new Promise((resolve, reject) => { callbackWaiter = { resolve, reject }; });
  const child = spawn(process.execPath, [opts.login, url.href], {
    env: { ...process.env, LOGIN_USER: PERSON, LOGIN_PASSWORD: PASSWORD, LOGIN_CONSENT: process.env.LOGIN_CONSENT || 'accept' },
    stdio: ['ignore', 'ignore', 'pipe']
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => {
    child.on('error', (e) => resolve({ code: null, stderr: `${stderr}could not start ${opts.login}: ${e.message}\n` }));
    child.on('close', (code) => resolve({ code, stderr }));
  });
  pendingLogin = { callback, exited, child };
}

// Waits for the login driver to finish and for the callback; checks the state (the SDK does
// not). Returns the callback's parameters, or null after a failed check.
async function personLogsIn(label) {
  const login = pendingLogin;
  pendingLogin = null;
  if (!login) { notOk(`${label}: browser login`, 'the SDK never called redirectToAuthorization'); return null; }
  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve('timeout'), PERSON_TIMEOUT_MS); });
  const result = await Promise.race([login.exited, timeout]);
  if (result === 'timeout') {
    login.child.kill();
    clearTimeout(timer);
    notOk(`${label}: browser login as ${PERSON}`, `the login driver did not finish within ${PERSON_TIMEOUT_MS / 1000} s`);
    return null;
  }
  for (const line of result.stderr.split('\n').filter(Boolean)) note(`browser: ${line}`);
  if (!check(`${label}: browser login as ${PERSON} on Keycloak's page (login driver exit 0), redirected to the loopback listener`,
    result.code === 0, `login driver exit ${result.code}`)) { clearTimeout(timer); return null; }
  const params = await Promise.race([login.callback, timeout]);
  clearTimeout(timer);
  if (params === 'timeout') { notOk(`${label}: callback on ${REDIRECT_URL}`, 'no authorization response arrived'); return null; }
  const expected = provider.lastState;
  const state = params.get('state');
  const error = params.get('error');
  const stateOk = typeof state === 'string' && state === expected;
  const iss = params.get('iss');
  if (!check(`${label}: callback GET ${REDIRECT_URL}: code ${short(params.get('code'))}, state ${stateOk ? '✓ (matches the one sent; checked here, the SDK does not)' : '✗'}` +
    `${iss ? `, iss ${iss}` : ''}`,
  stateOk && !error && params.get('code'),
  `state ${stateOk ? 'matches' : `${short(state)} ≠ sent ${short(expected)}`}, error ${show(error)}, code ${short(params.get('code'))}`)) return null;
  return params;
}

// ---------------------------------------------------------------- the OAuthClientProvider
// Everything in memory, for this process only. The SDK calls these; none of them talks to the
// network.
class MemoryOAuthProvider {
  constructor() {
    this._client = undefined;
    this._tokens = undefined;
    this._verifier = undefined;
    this._discovery = undefined;
    this.lastState = undefined;
    this.savedClients = [];
    this.savedTokens = [];
  }

  get redirectUrl() { return REDIRECT_URL; }

  get clientMetadata() {
    // A public client (no secret) with a loopback redirect URI: a native application (RFC 8252).
    return {
      client_name: `mcp-auth-steps interop (${opts.clientName})`,
      redirect_uris: [REDIRECT_URL],
      response_types: ['code'],
      token_endpoint_auth_method: 'none'
    };
  }

  state() {
    this.lastState = remember(randomBytes(24).toString('base64url'));
    return this.lastState;
  }

  clientInformation() { return this._client; }
  saveClientInformation(info) {
    remember(info.client_secret);
    this._client = info;
    this.savedClients.push(info);
  }

  tokens() { return this._tokens; }
  saveTokens(tokens) {
    remember(tokens.access_token); remember(tokens.refresh_token); remember(tokens.id_token);
    this._tokens = tokens;
    this.savedTokens.push(tokens);
  }

  redirectToAuthorization(url) {
    authorizationUrls.push(url);
    startLogin(url);
  }

  saveCodeVerifier(verifier) { this._verifier = remember(verifier); }
  codeVerifier() {
    if (!this._verifier) throw new Error('no PKCE code verifier saved');
    return this._verifier;
  }

  saveDiscoveryState(state) { this._discovery = state; }
  discoveryState() { return this._discovery; }

  invalidateCredentials(scope) {
    note(`SDK invalidated credentials: ${scope}`);
    if (scope === 'all' || scope === 'client') this._client = undefined;
    if (scope === 'all' || scope === 'tokens') this._tokens = undefined;
    if (scope === 'all' || scope === 'verifier') this._verifier = undefined;
    if (scope === 'all' || scope === 'discovery') this._discovery = undefined;
  }
}
const provider = new MemoryOAuthProvider();

// --------------------------------------------------------------------------------- the checks

function newClient() {
  const client = new Client({ name: opts.clientName, version: '1.0.0' }, {
    capabilities: {},
    versionNegotiation: { mode: 'auto' }
  });
  client.onerror = () => {}; // background errors (e.g. an optional GET stream) are not checks
  return client;
}
const newTransport = (extra = {}) =>
  new StreamableHTTPClientTransport(new URL(opts.url), { authProvider: provider, fetch: recordingFetch, ...extra });

// Checks the authorization URL the SDK built and handed to redirectToAuthorization.
function checkAuthorizationUrl(label, url, wantScope) {
  const p = url?.searchParams;
  const scope = p?.get('scope') ?? '';
  const wanted = wantScope.every((s) => scope.split(' ').includes(s));
  check(`${label}: authorization URL handed to redirectToAuthorization: ${withoutQuery(url)} ` +
    `(response_type ${p?.get('response_type')}, client_id ${p?.get('client_id')}, redirect_uri ${p?.get('redirect_uri')}, ` +
    `code_challenge_method ${p?.get('code_challenge_method')}, resource ${p?.get('resource')}, scope "${scope}", state ${short(p?.get('state'))})`,
  url && p.get('response_type') === 'code' && p.get('code_challenge_method') === 'S256' &&
      /^[A-Za-z0-9_-]{43}$/.test(p.get('code_challenge') ?? '') && p.get('redirect_uri') === REDIRECT_URL &&
      p.get('client_id') === provider.clientInformation()?.client_id && p.get('state') === provider.lastState &&
      p.get('resource') === new URL(opts.url).href && wanted,
  `URL ${url ? withoutQuery(url) : '(none)'} params ${show(p ? [...p.keys()] : [])}, scope ${show(scope)}, want ${show(wantScope)}`);
}

// Redeems the callback through the SDK; checks the token request and the tokens saved.
async function finishAuth(label, transport, params) {
  const before = provider.savedTokens.length;
  try {
    await transport.finishAuth(params.get('code'), params.get('iss') ?? undefined);
  } catch (err) {
    notOk(`${label}: finishAuth`, describeError(err));
    return null;
  }
  const tokenPosts = since().filter((e) => e.method === 'POST' && /\/token$/.test(e.url));
  const tokens = provider.savedTokens.length > before ? provider.tokens() : undefined;
  check(`${label}: finishAuth(code, iss) → SDK token request ${tokenPosts.map(showExchange).join(', ') || '(none)'}: ` +
    `access token ${short(tokens?.access_token)}, token_type ${tokens?.token_type}, expires_in ${tokens?.expires_in}, scope "${tokens?.scope}"`,
  tokens?.access_token && tokenPosts.length === 1 && tokenPosts[0].status === 200,
  `token requests ${show(tokenPosts.map(showExchange))}, tokens saved ${provider.savedTokens.length - before}`);
  return tokens ?? null;
}

async function forbiddenCall(client) {
  switch (opts.forbidden) {
    case 'prompts/list': return client.listPrompts(undefined, { timeout: TIMEOUT_MS });
    case 'prompts/get': return client.getPrompt({ name: 'echo_prompt', arguments: { message: 'hi' } }, { timeout: TIMEOUT_MS });
    default: return client.callTool({ name: 'echo', arguments: { message: 'hi' } }, { timeout: TIMEOUT_MS });
  }
}

async function main() {
  note(`server ${opts.url}, client name ${opts.clientName}, person ${PERSON} (login driver ${opts.login}), ` +
    `callback listener ${REDIRECT_URL}, forbidden call ${opts.forbidden}`);

  // --- 1. connect without a token: 401, then the SDK's discovery, registration, authorization URL
  const t1 = newTransport();
  const c1 = newClient();
  let connectError;
  try {
    await c1.connect(t1, { timeout: TIMEOUT_MS });
  } catch (err) {
    connectError = err;
  }
  const first = since();
  const unauth = first[0];
  check(`unauthenticated request answered 401: ${unauth ? showExchange(unauth) : '(none)'}, WWW-Authenticate: ${unauth?.wwwAuthenticate}`,
    unauth?.status === 401 && !unauth.bearer && /^Bearer\b/i.test(unauth.wwwAuthenticate ?? '') && /resource_metadata="/.test(unauth.wwwAuthenticate ?? ''),
    `first exchange ${unauth ? showExchange(unauth) : '(none)'}, WWW-Authenticate ${show(unauth?.wwwAuthenticate)}`);
  const prm = first.find((e) => e.method === 'GET' && e.url.includes('/.well-known/oauth-protected-resource'));
  check(`SDK discovery: protected resource metadata ${prm ? showExchange(prm) : '(not fetched)'}`,
    prm?.status === 200, `exchanges ${show(first.map(showExchange))}`);
  const asm = first.filter((e) => e.method === 'GET' && /\/\.well-known\/(oauth-authorization-server|openid-configuration)/.test(e.url));
  const asmOk = asm.find((e) => e.status === 200);
  const issuer = provider.discoveryState()?.authorizationServerMetadata?.issuer;
  check(`SDK discovery: authorization server metadata ${asm.map(showExchange).join(', ') || '(not fetched)'}, issuer ${issuer}`,
    asmOk !== undefined && typeof issuer === 'string', `exchanges ${show(first.map(showExchange))}`);
  const reg = first.filter((e) => e.method === 'POST' && !e.rpc && !/\/token$/.test(e.url));
  const info = provider.clientInformation();
  const how = info?.client_id?.startsWith('https://') ? 'CIMD (URL-based client_id)' : 'RFC 7591 dynamic registration';
  check(`SDK registration (${how}): ${reg.map(showExchange).join(', ') || '(no request)'}, client_id ${info?.client_id}, ` +
    `token_endpoint_auth_method ${info?.token_endpoint_auth_method}${info?.client_secret ? `, client_secret ${short(info.client_secret)}` : ', no client_secret'}`,
  reg.length === 1 && reg[0].status === 201 && typeof info?.client_id === 'string' && provider.savedClients.length === 1,
  `registration requests ${show(reg.map(showExchange))}, saved clients ${provider.savedClients.length}`);
  if (!check(`connect stopped with the SDK's UnauthorizedError (authorization needed, redirect initiated)`,
    connectError instanceof UnauthorizedError, connectError ? describeError(connectError) : 'connect succeeded without a login')) return;
  const unauthScope = /scope="([^"]*)"/.exec(unauth?.wwwAuthenticate ?? '')?.[1]?.split(' ') ?? [];
  checkAuthorizationUrl('round 1', authorizationUrls[0], unauthScope);

  // --- 2. the person logs in; the callback; finishAuth
  const params = await personLogsIn('round 1');
  if (!params) return;
  const tokens = await finishAuth('round 1', t1, params);
  if (!tokens) return;
  try { await c1.close(); } catch { /* never connected */ }

  // --- 3. connect with the token (a new transport, same provider), tools/list, tools/call
  const t2 = newTransport();
  const c2 = newClient();
  try {
    await c2.connect(t2, { timeout: TIMEOUT_MS });
  } catch (err) {
    notOk('connect with the token', `${describeError(err)}; exchanges ${show(since().map(showExchange))}`);
    return;
  }
  const connected = since();
  check(`connected with the token: ${connected.map(showExchange).join(', ')}; era ${c2.getProtocolEra()}, protocol ${c2.getNegotiatedProtocolVersion()}`,
    c2.getProtocolEra() === 'modern' && c2.getNegotiatedProtocolVersion() === MODERN && connected.every((e) => e.bearer && e.status === 200),
    `era ${show(c2.getProtocolEra())}, version ${show(c2.getNegotiatedProtocolVersion())}, exchanges ${show(connected.map(showExchange))}`);

  try {
    const list = await c2.listTools(undefined, { timeout: TIMEOUT_MS });
    const names = (list?.tools ?? []).map((t) => t.name);
    check(`tools/list: ${names.join(', ')}`, names.includes('echo') && names.includes('whoami'), `tools ${show(names)}`);
  } catch (err) {
    notOk('tools/list', describeError(err));
  }
  try {
    const call = await c2.callTool({ name: 'echo', arguments: { message: opts.message } }, { timeout: TIMEOUT_MS });
    const text = (call?.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('');
    check(`tools/call echo ${show({ message: opts.message })} → ${show(text)}`,
      call?.isError !== true && text === opts.message, `result ${show(call)}`);
  } catch (err) {
    notOk(`tools/call echo ${show({ message: opts.message })}`, describeError(err));
  }
  since();

  // --- 4. a call the scopes do not allow: the SDK's step-up, a second login, still no grant
  const grantedBefore = (provider.tokens()?.scope ?? '').split(' ').filter(Boolean);
  let stepUpError;
  try {
    const r = await forbiddenCall(c2);
    notOk(`${opts.forbidden} with scope "${grantedBefore.join(' ')}"`, `it succeeded: ${show(r)}`);
    return;
  } catch (err) {
    stepUpError = err;
  }
  const refused = since();
  const forbidden403 = refused.find((e) => e.rpc === opts.forbidden && e.status === 403);
  const challenge = forbidden403?.wwwAuthenticate ?? '';
  const challengeScope = /scope="([^"]*)"/.exec(challenge)?.[1];
  check(`${opts.forbidden} → ${forbidden403 ? showExchange(forbidden403) : '(no 403)'}, WWW-Authenticate: ${challenge}`,
    /^Bearer\b/i.test(challenge) && /error="insufficient_scope"/.test(challenge) && challengeScope,
    `exchanges ${show(refused.map(showExchange))}, WWW-Authenticate ${show(challenge)}`);
  if (stepUpError instanceof UnauthorizedError && authorizationUrls.length === 2) {
    ok(`SDK step-up (onInsufficientScope 'reauthorize', the default): a second authorization round, the SDK threw UnauthorizedError`);
    checkAuthorizationUrl('step-up', authorizationUrls[1], [...grantedBefore, ...(challengeScope ?? '').split(' ').filter(Boolean)]);
    const params2 = await personLogsIn('step-up');
    if (!params2) return;
    const tokens2 = await finishAuth('step-up', t2, params2);
    if (!tokens2) return;
    const granted = (tokens2.scope ?? '').split(' ');
    check(`step-up: Keycloak still does not grant ${challengeScope} to ${PERSON} (token scope "${tokens2.scope}")`,
      challengeScope && !challengeScope.split(' ').every((s) => granted.includes(s)), `token scope ${show(tokens2.scope)}`);
  } else {
    note(`the SDK did not step up: ${describeError(stepUpError)} (authorization URLs so far: ${authorizationUrls.length})`);
  }
  try { await c2.close(); } catch { /* stateless */ }

  // --- 5. the retry: the host allows one step-up per call, so this transport throws instead
  const t3 = newTransport({ onInsufficientScope: 'throw' });
  const c3 = newClient();
  try {
    await c3.connect(t3, { timeout: TIMEOUT_MS });
  } catch (err) {
    notOk('connect with the stepped-up token', describeError(err));
    return;
  }
  since();
  let finalError;
  try {
    const r = await forbiddenCall(c3);
    notOk(`${opts.forbidden} retried`, `it succeeded: ${show(r)}`);
    return;
  } catch (err) {
    finalError = err;
  }
  const retried = since();
  const final403 = retried.find((e) => e.rpc === opts.forbidden);
  const finalChallenge = final403?.wwwAuthenticate ?? '';
  const finalScope = /scope="([^"]*)"/.exec(finalChallenge)?.[1];
  note(`${opts.forbidden} retried: the SDK raised ${describeError(finalError)}`);
  check(`${opts.forbidden} retried → HTTP ${final403?.status}, WWW-Authenticate: ${finalChallenge}`,
    final403?.status === 403 && final403.bearer && /^Bearer\b/i.test(finalChallenge) && /error="insufficient_scope"/.test(finalChallenge),
    `exchanges ${show(retried.map(showExchange))}`);
  check(`${opts.forbidden} refused for good: the SDK raised InsufficientScopeError, requiredScope "${finalError?.requiredScope}", ` +
    `errorDescription "${finalError?.errorDescription}"`,
  finalError instanceof InsufficientScopeError && finalScope !== undefined && finalError.requiredScope === finalScope,
  `${describeError(finalError)}, requiredScope ${show(finalError?.requiredScope)}, challenge scope ${show(finalScope)}`);
  check('no further authorization round after the refusal', authorizationUrls.length <= 2 && pendingLogin === null,
    `${authorizationUrls.length} authorization URLs`);
  try { await c3.close(); } catch { /* stateless */ }
}

await checks.finish(async () => {
  try {
    await main();
  } finally {
    pendingLogin?.child.kill();
    listener.close();
  }
});
