#!/usr/bin/env node
// Keycloak stand-in for the tutorial's tests: the realm in env/keycloak/mcp-realm.json,
// served by oidc-provider (https://github.com/panva/node-oidc-provider) under Keycloak's
// URL layout. TEST USE ONLY - see README.md for what it implements and how it differs
// from Keycloak.
//
//   node scripts/keycloak-standin/server.mjs --port 8080 [--realm-file env/keycloak/mcp-realm.json]
//        [--auto-login mcp-user | --deny] [--public-url http://localhost:8080]
//
// stdout carries exactly one line, `listening on http://127.0.0.1:PORT`, once the server
// is ready; everything else (one line per request, notices) goes to stderr. No token,
// secret or password is ever printed.

import {
  createPublicKey, generateKeyPairSync, randomBytes, randomUUID,
} from 'node:crypto';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { KeycloakError, Realm } from './realm.mjs';

// oidc-provider prints its notices with console.info (stdout); keep stdout for the one
// "listening on" line that scripts read.
console.info = (...args) => console.error(...args);
console.log = (...args) => console.error(...args);

const { default: Provider, errors } = await import('oidc-provider');
const jose = await import('jose');

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DEFAULT_REALM_FILE = path.resolve(HERE, '../../env/keycloak/mcp-realm.json');
// Resource indicator used when the client sends none (Keycloak ignores `resource`; the
// audience comes from the realm's mappers either way).
const DEFAULT_RESOURCE = 'urn:keycloak-standin:realm-token';

// ------------------------------------------------------------------ options

function usage(message) {
  if (message) process.stderr.write(`keycloak-standin: ${message}\n`);
  process.stderr.write(`usage: node server.mjs [--port N] [--host 127.0.0.1] [--realm-file FILE]
                      [--public-url URL] [--auto-login USERNAME | --deny]
  --port N           port to listen on (0 picks a free one; default 8080)
  --host H           loopback address to bind (default 127.0.0.1)
  --realm-file FILE  Keycloak realm JSON (default env/keycloak/mcp-realm.json of this repo)
  --public-url URL   base URL clients use (env STANDIN_PUBLIC_URL; default http://localhost:PORT);
                     the issuer is <URL>/realms/<realm>
  --auto-login USER  authorization requests log USER in and grant consent without a page
                     (env STANDIN_AUTO_LOGIN)
  --deny             authorization requests end with error=access_denied (env STANDIN_DENY=1)
`);
  process.exit(message ? 2 : 0);
}

function parseArgs(argv) {
  const opts = {
    port: 8080,
    host: '127.0.0.1',
    realmFile: process.env.STANDIN_REALM_FILE || DEFAULT_REALM_FILE,
    publicUrl: process.env.STANDIN_PUBLIC_URL || undefined,
    autoLogin: process.env.STANDIN_AUTO_LOGIN || undefined,
    deny: ['1', 'true', 'yes'].includes(String(process.env.STANDIN_DENY ?? '').toLowerCase()),
  };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const value = () => {
      const v = argv[i + 1];
      if (v === undefined) usage(`${arg} needs a value`);
      i += 1;
      return v;
    };
    switch (arg) {
      case '--port': {
        const v = value();
        if (!/^\d+$/.test(v) || Number(v) > 65535) usage(`--port: not a port number: ${v}`);
        opts.port = Number(v);
        break;
      }
      case '--host': opts.host = value(); break;
      case '--realm-file': opts.realmFile = path.resolve(value()); break;
      case '--public-url': opts.publicUrl = value(); break;
      case '--auto-login': opts.autoLogin = value(); break;
      case '--deny': opts.deny = true; break;
      case '-h': case '--help': usage(); break;
      default: usage(`unknown argument: ${arg}`);
    }
  }
  if (!['127.0.0.1', 'localhost', '::1'].includes(opts.host)) usage('--host must be a loopback address');
  if (opts.autoLogin && opts.deny) usage('--auto-login and --deny exclude each other');
  return opts;
}

const opts = parseArgs(process.argv.slice(2));

function fatal(message) {
  process.stderr.write(`keycloak-standin: ${message}\n`);
  process.exit(1);
}

let realm;
try {
  realm = Realm.fromFile(opts.realmFile);
} catch (err) {
  fatal(err.message);
}
if (!realm.enabled) fatal(`realm ${realm.name} in ${opts.realmFile} is disabled`);

let autoLoginUser;
if (opts.autoLogin) {
  autoLoginUser = realm.userByUsername(opts.autoLogin);
  if (!autoLoginUser) fatal(`--auto-login: no user ${opts.autoLogin} in ${opts.realmFile}`);
}

const log = (line) => process.stderr.write(`keycloak-standin: ${line}\n`);

// Never let an unexpected error print an object that may hold key material.
process.on('uncaughtException', (err) => fatal(`unexpected error: ${err?.message ?? err}`));
process.on('unhandledRejection', (err) => fatal(`unexpected error: ${err?.message ?? err}`));

// ---------------------------------------------------------------- keys

// Fresh keys on every start, as Keycloak generates them for a new realm: one RSA key to
// sign (RS256) and one RSA key for encryption (use "enc"), which Keycloak also publishes.
async function makeKey(use, alg) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  const kid = await jose.calculateJwkThumbprint({ kty: jwk.kty, n: jwk.n, e: jwk.e });
  return { ...jwk, kid, use, alg };
}
const signingJwk = await makeKey('sig', 'RS256');
const encryptionJwk = await makeKey('enc', 'RSA-OAEP');
const publicEncryptionJwk = {
  kid: encryptionJwk.kid, kty: encryptionJwk.kty, alg: encryptionJwk.alg, use: 'enc', n: encryptionJwk.n, e: encryptionJwk.e,
};
const publicSigningKey = await jose.importJWK(
  { kty: signingJwk.kty, n: signingJwk.n, e: signingJwk.e }, 'RS256',
);
const publicSigningKeyDer = createPublicKey({
  key: { kty: signingJwk.kty, n: signingJwk.n, e: signingJwk.e }, format: 'jwk',
}).export({ type: 'spki', format: 'der' });

// ------------------------------------------------------------- storage

// In-memory storage for oidc-provider's models (codes, grants, sessions, registered
// clients). Everything is lost when the process stops, like a fresh Keycloak dev container.
const storage = new Map();
class MemoryAdapter {
  constructor(model) { this.model = model; }

  key(id) { return `${this.model}:${id}`; }

  async upsert(id, payload, expiresIn) {
    storage.set(this.key(id), { payload, exp: expiresIn ? Date.now() + expiresIn * 1000 : undefined });
  }

  async find(id) {
    const entry = storage.get(this.key(id));
    if (!entry) return undefined;
    if (entry.exp !== undefined && entry.exp < Date.now()) {
      storage.delete(this.key(id));
      return undefined;
    }
    return entry.payload;
  }

  async findByUid(uid) {
    for (const [key, entry] of storage) {
      if (key.startsWith(`${this.model}:`) && entry.payload.uid === uid) return this.find(key.slice(this.model.length + 1));
    }
    return undefined;
  }

  async findByUserCode(userCode) {
    for (const [key, entry] of storage) {
      if (key.startsWith(`${this.model}:`) && entry.payload.userCode === userCode) return this.find(key.slice(this.model.length + 1));
    }
    return undefined;
  }

  async consume(id) {
    const entry = storage.get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) { storage.delete(this.key(id)); }

  async revokeByGrantId(grantId) {
    for (const [key, entry] of storage) if (entry.payload.grantId === grantId) storage.delete(key);
  }
}

// ---------------------------------------------------------- the provider

const toOidcError = (err) => {
  if (!(err instanceof KeycloakError)) return err;
  const e = new errors.CustomOIDCProviderError(err.error, err.description);
  e.status = err.status;
  e.statusCode = err.status;
  e.expose = true;
  return e;
};

function clientMetadata(kc) {
  const grantTypes = [];
  if (kc.standardFlowEnabled) grantTypes.push('authorization_code');
  if (kc.directAccessGrantsEnabled) grantTypes.push('password');
  if (kc.serviceAccountsEnabled) grantTypes.push('client_credentials');
  if (kc.standardFlowEnabled || kc.directAccessGrantsEnabled) grantTypes.push('refresh_token');
  return {
    client_id: kc.clientId,
    ...(kc.publicClient
      ? { token_endpoint_auth_method: 'none' }
      : { token_endpoint_auth_method: 'client_secret_basic', client_secret: kc.secret || randomBytes(24).toString('base64url') }),
    grant_types: grantTypes,
    response_types: kc.standardFlowEnabled ? ['code'] : [],
    redirect_uris: kc.standardFlowEnabled ? kc.redirectUris.filter((u) => /^https?:\/\//.test(u)) : [],
  };
}

function resourceServerInfo() {
  return {
    scope: realm.allScopeNames().join(' '),
    accessTokenFormat: 'jwt',
    accessTokenTTL: realm.accessTokenLifespan,
    jwt: { sign: { alg: 'RS256' } },
  };
}

function authTimeOf(ctx, token) {
  const e = ctx?.oidc?.entities ?? {};
  return e.AuthorizationCode?.authTime ?? e.RefreshToken?.authTime ?? ctx?.state?.authTime ?? token.iat;
}

// Rewrites oidc-provider's JWT access token into the token Keycloak would issue for the
// same client, user and scope parameter (claims, audience and scope from the realm file).
async function keycloakAccessToken(ctx, token, jwt) {
  const client = realm.client(token.clientId);
  if (!client) throw new Error(`client ${token.clientId} is not in the realm`);
  const serviceAccount = token.kind === 'ClientCredentials';
  const user = serviceAccount ? realm.serviceAccountUser(client.clientId) : realm.userById(token.accountId);
  if (!user) throw new Error('the token\'s user is not in the realm');
  const { claims, aud, scope } = realm.tokenClaims({
    client,
    user,
    scopeParam: token.scope,
    target: 'access',
    session: { authTime: authTimeOf(ctx, token), clientAddress: ctx?.ip },
  });
  const p = jwt.payload;
  const { sub, auth_time: authTime, ...rest } = claims;
  jwt.header = { typ: 'JWT' };
  jwt.payload = {
    exp: p.exp,
    iat: p.iat,
    ...(authTime !== undefined ? { auth_time: authTime } : {}),
    jti: p.jti,
    iss: p.iss,
    // oidc-provider refuses a JWT access token without an audience; Keycloak would omit
    // "aud" here, and the azp fallback is refused by the MCP server in the same way.
    aud: aud.length === 0 ? client.clientId : aud.length === 1 ? aud[0] : aud,
    ...(sub !== undefined ? { sub } : {}),
    typ: 'Bearer',
    azp: client.clientId,
    ...(!serviceAccount && (token.sid || token.sessionUid) ? { sid: token.sid || token.sessionUid } : {}),
    ...rest,
    scope,
  };
  // The token endpoint answers with token.scope after this runs: keep it equal to the claim.
  token.scope = scope;
}

function accountClaims(client, user, scope) {
  const { claims } = realm.tokenClaims({ client, user, scopeParam: scope, target: 'id' });
  return { ...claims, sub: user.id };
}

const registrationClientState = new WeakMap();

const configuration = {
  adapter: MemoryAdapter,
  clients: realm.loginClients().map(clientMetadata),
  jwks: { keys: [signingJwk] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid'],
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'given_name', 'family_name', 'name'],
    email: ['email', 'email_verified'],
  },
  async findAccount(ctx, id) {
    const user = realm.userById(id);
    if (!user) return undefined;
    return {
      accountId: id,
      async claims(use, scope) {
        const client = realm.client(ctx.oidc.client?.clientId);
        return client ? accountClaims(client, user, `openid ${scope ?? ''}`) : { sub: id };
      },
    };
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    userinfo: { enabled: false }, // served below: Keycloak's userinfo accepts its access tokens
    rpInitiatedLogout: { enabled: true },
    registration: {
      enabled: true,
      initialAccessToken: false,
      issueRegistrationAccessToken: true,
      // oidc-provider attaches registration policies to initial access tokens only; anonymous
      // registration (Keycloak's "anonymous" policies) has no such hook. idFactory is the
      // first callback that sees the parsed request, so the realm's policies run here.
      idFactory(ctx) {
        const body = ctx.oidc.body;
        let kc;
        try {
          kc = realm.applyAnonymousRegistrationPolicies(body, ctx.req.socket.remoteAddress);
        } catch (err) {
          throw toOidcError(err);
        }
        // Keycloak keeps the client scopes itself; oidc-provider's own `scope` allow-list
        // would refuse "openid" for a client registered with "mcp:read" only.
        delete body.scope;
        if (body.response_types === undefined && !kc.standardFlowEnabled) body.response_types = [];
        registrationClientState.set(ctx, kc);
        return randomUUID();
      },
    },
    resourceIndicators: {
      enabled: true,
      async defaultResource(ctx, client, oneOf) {
        return oneOf ? oneOf[0] : DEFAULT_RESOURCE;
      },
      async useGrantedResource() {
        return true;
      },
      async getResourceServerInfo(ctx, resourceIndicator, client) {
        // Keycloak checks the scope parameter against the client's client scopes.
        const kc = realm.client(client.clientId);
        const route = ctx.oidc.route;
        const grantType = ctx.oidc.params?.grant_type;
        if (kc && (route === 'authorization' || (route === 'token' && grantType === 'client_credentials'))) {
          try {
            realm.checkScopeParam(kc, ctx.oidc.params.scope);
          } catch (err) {
            throw toOidcError(err);
          }
        }
        return resourceServerInfo();
      },
    },
  },
  formats: { customizers: { jwt: keycloakAccessToken } },
  pkce: {
    // Keycloak: the client attribute pkce.code.challenge.method (set on DCR clients by the
    // realm's client policy). oidc-provider only implements S256.
    required: (ctx, client) => Boolean(realm.client(client.clientId)?.pkceMethod),
  },
  routes: {
    authorization: '/protocol/openid-connect/auth',
    token: '/protocol/openid-connect/token',
    jwks: '/protocol/openid-connect/certs',
    end_session: '/protocol/openid-connect/logout',
    registration: '/clients-registrations/openid-connect',
    userinfo: '/protocol/openid-connect/userinfo',
    revocation: '/protocol/openid-connect/revoke',
    introspection: '/protocol/openid-connect/token/introspect',
    pushed_authorization_request: '/protocol/openid-connect/ext/par/request',
  },
  interactions: {
    url: (ctx, interaction) => `/realms/${encodeURIComponent(realm.name)}/login-actions/authenticate/${interaction.uid}`,
  },
  responseTypes: ['code'],
  allowOmittingSingleRegisteredRedirectUri: false,
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  // Keycloak (revokeRefreshToken=false) lets a refresh token be used again.
  rotateRefreshToken: false,
  clientBasedCORS(ctx, origin, client) {
    const kc = realm.client(client.clientId);
    if (!kc) return false;
    return kc.webOrigins.includes('*') || realm.allowedOrigins(kc).includes(origin);
  },
  ttl: {
    AccessToken: realm.accessTokenLifespan,
    ClientCredentials: realm.accessTokenLifespan,
    IdToken: realm.accessTokenLifespan,
    AuthorizationCode: realm.accessCodeLifespan,
    RefreshToken: realm.ssoSessionIdleTimeout,
    Interaction: realm.accessCodeLifespanLogin,
    Session: realm.ssoSessionIdleTimeout,
    Grant: realm.ssoSessionIdleTimeout,
    RegistrationAccessToken: 86400,
  },
};


const listenPort = opts.port;
let publicUrl; // set once the port is known
let issuer;
let prefix;
let provider;

// ------------------------------------------------------- the password grant

// Keycloak's "direct access grant" (RFC 6749 section 4.3), which oidc-provider leaves to
// the application. Tokens are oidc-provider's own models, so the JWT customizer above,
// refresh and the stores apply to them exactly as to the other grants.
async function passwordGrant(ctx) {
  const { client, params } = ctx.oidc;
  const kc = realm.client(client.clientId);
  let user;
  try {
    if (!kc?.directAccessGrantsEnabled) {
      throw new KeycloakError(400, 'unauthorized_client', 'Client not allowed for direct access grants');
    }
    realm.checkScopeParam(kc, params.scope);
    user = realm.authenticate(params.username, params.password);
  } catch (err) {
    throw toOidcError(err);
  }

  const now = Math.floor(Date.now() / 1000);
  ctx.state.authTime = now;
  const scopeParam = params.scope || undefined;
  const requested = new Set(scopeParam ? scopeParam.split(' ') : []);
  const applied = realm.appliedClientScopes(kc, scopeParam, user).map((s) => s.name);
  const idScopes = ['openid', ...applied.filter((n) => n === 'profile' || n === 'email')];

  const { Grant, AccessToken, RefreshToken, IdToken, ResourceServer } = provider;
  const grant = new Grant({ accountId: user.id, clientId: client.clientId });
  if (requested.has('openid')) grant.addOIDCScope(idScopes.join(' '));
  if (requested.size) grant.addResourceScope(DEFAULT_RESOURCE, [...requested].join(' '));
  const grantId = await grant.save();
  ctx.oidc.entity('Grant', grant);

  const sid = randomUUID();
  const at = new AccessToken({
    accountId: user.id, client, grantId, gty: 'password', sid, scope: scopeParam,
  });
  at.resourceServer = new ResourceServer(DEFAULT_RESOURCE, resourceServerInfo());
  ctx.oidc.entity('AccessToken', at);
  const accessToken = await at.save();

  let refreshToken;
  let refreshExpiresIn;
  if (client.grantTypeAllowed('refresh_token')) {
    const rt = new RefreshToken({
      accountId: user.id,
      authTime: now,
      client,
      grantId,
      gty: 'password',
      resource: DEFAULT_RESOURCE,
      rotations: 0,
      scope: scopeParam,
      sid,
    });
    ctx.oidc.entity('RefreshToken', rt);
    refreshToken = await rt.save();
    refreshExpiresIn = rt.expiration;
  }

  let idToken;
  if (requested.has('openid')) {
    const token = new IdToken({ ...accountClaims(kc, user, `openid ${scopeParam}`), auth_time: now, acr: '1' }, { ctx });
    token.scope = idScopes.join(' ');
    token.set('sid', sid);
    idToken = await token.issue({ use: 'idtoken' });
  }

  ctx.body = {
    access_token: accessToken,
    expires_in: at.expiration,
    ...(refreshToken ? { refresh_expires_in: refreshExpiresIn, refresh_token: refreshToken } : {}),
    token_type: 'Bearer',
    ...(idToken ? { id_token: idToken } : {}),
    'not-before-policy': 0,
    session_state: sid,
    scope: at.scope ?? '',
  };
}

// ------------------------------------------------------------ interactions

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

function loginPage(details, message) {
  const { params, uid } = details;
  const kc = realm.client(params.client_id);
  const scopes = String(params.scope ?? '').split(' ').filter(Boolean)
    .map((s) => realm.clientScopes.get(s)?.consentText ?? s);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in to ${escapeHtml(realm.name)}</title></head>
<body>
<h1>Sign in to ${escapeHtml(realm.name)}</h1>
<p>Keycloak stand-in (test use only). Client <code>${escapeHtml(params.client_id)}</code>${kc?.consentRequired ? ' asks for:' : ' requests:'}</p>
<ul>${scopes.map((s) => `<li>${escapeHtml(s)}</li>`).join('')}</ul>
${message ? `<p role="alert">${escapeHtml(message)}</p>` : ''}
<form method="post" action="/realms/${encodeURIComponent(realm.name)}/login-actions/authenticate/${escapeHtml(uid)}">
<label>Username or email <input name="username" autocomplete="username" autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit" name="action" value="login">Sign in${kc?.consentRequired ? ' and allow' : ''}</button>
<button type="submit" name="action" value="deny">Deny</button>
</form>
</body></html>`;
}

async function readBody(req, limit = 64 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function grantConsent(details) {
  const { prompt: { details: missing }, params, session, grantId } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}

async function handleInteraction(req, res) {
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch {
    return sendJson(res, 400, { error: 'invalid_request', error_description: 'Cookie not found or login session expired' });
  }
  const finish = (result, merge = true) => provider.interactionFinished(req, res, result, { mergeWithLastSubmission: merge });
  if (opts.deny) {
    return finish({ error: 'access_denied', error_description: 'The user denied the request' }, false);
  }
  if (details.prompt.name === 'login') {
    if (autoLoginUser) return finish({ login: { accountId: autoLoginUser.id, acr: '1' } }, false);
    if (req.method !== 'POST') return sendHtml(res, 200, loginPage(details));
    const form = new URLSearchParams(await readBody(req));
    if (form.get('action') === 'deny') {
      return finish({ error: 'access_denied', error_description: 'The user denied the request' }, false);
    }
    let user;
    try {
      user = realm.authenticate(form.get('username'), form.get('password'));
    } catch {
      return sendHtml(res, 200, loginPage(details, 'Invalid username or password.'));
    }
    return finish({ login: { accountId: user.id, acr: '1' } }, false);
  }
  if (details.prompt.name === 'consent') {
    // Consent was asked for on the login page (or not at all, for auto-login).
    return finish({ consent: { grantId: await grantConsent(details) } });
  }
  return finish({ error: 'interaction_required', error_description: `unsupported prompt ${details.prompt.name}` }, false);
}

// A headless client may follow the authorization URL without keeping cookies. With
// --auto-login or --deny the stand-in walks the interaction redirects itself, as a
// browser would, and hands the client only the final redirect back to its redirect_uri.
const internalSecret = randomBytes(16).toString('hex');

function selfRequest(url, jar) {
  return new Promise((resolve, reject) => {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const req = http.request({
      host: '127.0.0.1',
      port: server.address().port,
      method: 'GET',
      path: url,
      headers: { 'x-standin-internal': internalSecret, ...(cookie ? { cookie } : {}) },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function authorizeHeadless(req, res) {
  const jar = new Map();
  let url = req.url;
  for (let hop = 0; hop < 10; hop += 1) {
    const r = await selfRequest(url, jar);
    for (const c of [].concat(r.headers['set-cookie'] ?? [])) {
      const [pair] = c.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(c) || value === '') jar.delete(name); else jar.set(name, value);
    }
    if ([301, 302, 303, 307, 308].includes(r.status) && r.headers.location) {
      const next = new URL(r.headers.location, publicUrl);
      if (next.origin === publicUrl.origin && next.pathname.startsWith(`${prefix}/`)) {
        url = next.pathname + next.search;
        continue;
      }
      res.writeHead(302, { location: r.headers.location, 'cache-control': 'no-store' });
      return res.end();
    }
    const headers = {};
    for (const h of ['content-type', 'cache-control']) if (r.headers[h]) headers[h] = r.headers[h];
    res.writeHead(r.status, headers);
    return res.end(r.body);
  }
  return sendJson(res, 500, { error: 'server_error', error_description: 'too many redirects in the authorization flow' });
}

// ----------------------------------------------------------------- userinfo

async function userinfo(req, res) {
  const challenge = (desc) => {
    res.setHeader('www-authenticate', `Bearer realm="${realm.name}", error="invalid_token", error_description="${desc}"`);
    return sendJson(res, 401, { error: 'invalid_token', error_description: desc });
  };
  const m = /^Bearer ([^\s]+)$/i.exec(req.headers.authorization ?? '');
  if (!m) {
    res.setHeader('www-authenticate', `Bearer realm="${realm.name}"`);
    return sendJson(res, 401, { error: 'invalid_request', error_description: 'Token not provided' });
  }
  let payload;
  try {
    ({ payload } = await jose.jwtVerify(m[1], publicSigningKey, { issuer, algorithms: ['RS256'], typ: 'JWT' }));
  } catch {
    return challenge('Token verification failed');
  }
  const client = realm.client(payload.azp);
  const user = payload.sub && realm.userById(payload.sub);
  if (!client || !user) return challenge('User session not found or doesn\'t have client attached on it');
  const { claims } = realm.tokenClaims({ client, user, scopeParam: payload.scope, target: 'userinfo' });
  return sendJson(res, 200, { sub: user.id, ...claims });
}

// ------------------------------------------------------------------- HTTP

function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function sendHtml(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

function realmInfo() {
  return {
    realm: realm.name,
    public_key: publicSigningKeyDer.toString('base64'),
    'token-service': `${issuer}/protocol/openid-connect`,
    'account-service': `${issuer}/account`,
    'tokens-not-before': 0,
  };
}

function dispatch(req, res) {
  const started = process.hrtime.bigint();
  const requestPath = req.url.split('?')[0]; // never the query: it can carry codes
  res.on('finish', () => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const via = req.headers['x-standin-internal'] === internalSecret ? ' (auto-login)' : '';
    log(`${req.method} ${requestPath} ${res.statusCode} ${ms.toFixed(1)}ms${via}`);
  });

  const url = new URL(req.url, 'http://internal');
  const p = url.pathname;
  const wellKnownAs = `/.well-known/oauth-authorization-server${prefix}`;

  // Keycloak's URLs are built from the public URL, whatever address was dialled.
  req.headers.host = publicUrl.host;
  if (publicUrl.protocol === 'https:') req.headers['x-forwarded-proto'] = 'https';

  const toProvider = (providerPath) => {
    req.originalUrl = `${prefix}${providerPath}${url.search}`;
    req.url = `${providerPath}${url.search}`;
    return providerCallback(req, res);
  };

  if (p === wellKnownAs || p === `${prefix}/.well-known/oauth-authorization-server`) {
    // RFC 8414 metadata; Keycloak 26.4+ serves it at both places with the same content.
    return toProvider('/.well-known/openid-configuration');
  }
  if (p === `${prefix}/login-actions/authenticate` || p.startsWith(`${prefix}/login-actions/authenticate/`)) {
    return handleInteraction(req, res).catch((err) => internalError(res, err));
  }
  if (p === `${prefix}/protocol/openid-connect/userinfo`) {
    return userinfo(req, res).catch((err) => internalError(res, err));
  }
  if (p === prefix && req.method === 'GET') {
    return sendJson(res, 200, realmInfo());
  }
  if ((opts.autoLogin || opts.deny) && req.method === 'GET' && p === `${prefix}/protocol/openid-connect/auth`
    && req.headers['x-standin-internal'] !== internalSecret) {
    return authorizeHeadless(req, res).catch((err) => internalError(res, err));
  }
  if (p.startsWith(`${prefix}/`)) {
    return toProvider(p.slice(prefix.length));
  }
  return sendJson(res, 404, { error: 'Unable to find matching target resource method' });
}

function internalError(res, err) {
  log(`internal error: ${err?.message ?? err}`);
  if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
  else res.end();
}

let providerCallback;
const server = http.createServer(dispatch);

server.on('error', (err) => fatal(`cannot listen on ${opts.host}:${listenPort}: ${err.message}`));
server.listen(listenPort, opts.host, () => {
  const { port } = server.address();
  try {
    publicUrl = new URL(opts.publicUrl ?? `http://localhost:${port}`);
  } catch {
    fatal(`not a URL: --public-url / STANDIN_PUBLIC_URL ${opts.publicUrl}`);
  }
  publicUrl = new URL(publicUrl.origin);
  prefix = `/realms/${encodeURIComponent(realm.name)}`;
  issuer = `${publicUrl.origin}${prefix}`;

  try {
    provider = new Provider(issuer, configuration);
  } catch (err) {
    fatal(`cannot configure oidc-provider: ${err.message}`);
  }
  provider.proxy = publicUrl.protocol === 'https:';
  provider.registerGrantType('password', passwordGrant, ['username', 'password', 'scope', 'resource'], ['resource']);

  // Redirect URI matching as Keycloak's RedirectUtils does it (wildcards, loopback ports).
  const baseRedirectUriAllowed = provider.Client.prototype.redirectUriAllowed;
  provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(value) {
    const kc = realm.client(this.clientId);
    return kc ? realm.redirectUriAllowed(kc, value) : baseRedirectUriAllowed.call(this, value);
  };

  provider.on('registration_create.success', (ctx, client) => {
    const kc = registrationClientState.get(ctx);
    if (kc) realm.registerDynamicClient(client.clientId, { ...kc, redirectUris: client.redirectUris });
    log(`registered client ${client.clientId} (${kc?.publicClient ? 'public' : 'confidential'})`);
  });

  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route === 'discovery' && ctx.status === 200 && ctx.body) {
      ctx.body.scopes_supported = realm.discoveryScopes();
      ctx.body.userinfo_endpoint = `${issuer}/protocol/openid-connect/userinfo`;
    }
    if (ctx.oidc?.route === 'token' && ctx.status === 400
      && ctx.body?.error_description === 'requested grant type is not allowed for this client') {
      // Keycloak's words for a flow the client has not switched on.
      const why = {
        password: 'Client not allowed for direct access grants',
        client_credentials: 'Client not enabled to retrieve service account',
      }[ctx.oidc.params?.grant_type];
      ctx.body = { error: 'unauthorized_client', error_description: why ?? 'Client not allowed for this grant type' };
    }
    if (ctx.oidc?.route === 'jwks' && ctx.status === 200 && ctx.body?.keys) {
      // Keycloak also publishes its encryption key; oidc-provider has no use for one here.
      // A new object each time: oidc-provider caches its body, and pushing into it would grow the set.
      ctx.body = { ...ctx.body, keys: [...ctx.body.keys, publicEncryptionJwk] };
    }
    if (ctx.oidc?.route === 'registration' && ctx.status === 201 && ctx.body) {
      const kc = registrationClientState.get(ctx);
      if (kc) ctx.body.scope = kc.optionalClientScopes.join(' ');
    }
  });

  providerCallback = provider.callback();
  const mode = autoLoginUser ? `auto-login ${autoLoginUser.username}` : opts.deny ? 'deny' : 'login form';
  log(`realm ${realm.name} from ${opts.realmFile}; issuer ${issuer}; authorization: ${mode}`);
  process.stdout.write(`listening on http://${opts.host}:${port}\n`);
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
