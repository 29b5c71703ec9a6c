// The Keycloak side of the stand-in: reads a Keycloak realm representation
// (env/keycloak/mcp-realm.json) and answers the questions Keycloak answers when it
// issues a token or registers a client. Nothing here is specific to the tutorial's
// realm: users, clients, client scopes, role scope mappings, protocol mappers and
// client registration policies all come from the file.
//
// The rules follow Keycloak 26 (TokenManager, DefaultClientSessionContext,
// RedirectUtils, the client registration policies); the README lists what is not
// modelled.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

const OIDC = 'openid-connect';
const REG_POLICY = 'org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy';

/** An error Keycloak answers with a JSON body `{error, error_description}`. */
export class KeycloakError extends Error {
  constructor(status, error, description) {
    super(description);
    this.status = status;
    this.error = error;
    this.description = description;
  }
}

const asList = (v) => (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]);
const first = (config, key) => asList(config?.[key])[0];

/** A stable UUID for a name (service-account users), so `sub` does not change between runs. */
function nameUuid(name) {
  const h = createHash('sha256').update(`keycloak-standin:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export class Realm {
  /** @param {object} rep a Keycloak RealmRepresentation */
  constructor(rep, source = 'realm file') {
    if (!rep || typeof rep !== 'object' || typeof rep.realm !== 'string' || !rep.realm) {
      throw new Error(`${source}: not a Keycloak realm representation (no "realm" name)`);
    }
    this.name = rep.realm;
    this.enabled = rep.enabled !== false;
    this.accessTokenLifespan = rep.accessTokenLifespan ?? 300;
    this.accessCodeLifespan = rep.accessCodeLifespan ?? 60;
    this.ssoSessionIdleTimeout = rep.ssoSessionIdleTimeout ?? 1800;
    this.accessCodeLifespanLogin = rep.accessCodeLifespanLogin ?? 1800;

    // Client scopes (only openid-connect ones matter here).
    this.clientScopes = new Map();
    for (const cs of asList(rep.clientScopes)) {
      if ((cs.protocol ?? OIDC) !== OIDC) continue;
      const attributes = cs.attributes ?? {};
      this.clientScopes.set(cs.name, {
        name: cs.name,
        // ClientScopeModel.isIncludeInTokenScope(): true unless the attribute says "false".
        includeInTokenScope: attributes['include.in.token.scope'] !== 'false',
        inDiscovery: attributes['include.in.openid.provider.metadata'] !== 'false',
        consentText: attributes['consent.screen.text'] || cs.description || cs.name,
        protocolMappers: asList(cs.protocolMappers),
        scopeMappings: [], // role keys, filled below
      });
    }
    this.defaultDefaultClientScopes = asList(rep.defaultDefaultClientScopes).filter((n) => this.clientScopes.has(n));
    this.defaultOptionalClientScopes = asList(rep.defaultOptionalClientScopes).filter((n) => this.clientScopes.has(n));

    // Clients.
    this.clients = new Map();
    for (const c of asList(rep.clients)) {
      this.clients.set(c.clientId, this.#normaliseClient(c));
    }

    // Roles: a role key is "realm:<name>" or "client:<clientId>:<name>".
    this.composites = new Map();
    this.clientRoleNames = new Map();
    for (const r of asList(rep.roles?.realm)) this.#addRole(`realm:${r.name}`, r);
    for (const [clientId, roles] of Object.entries(rep.roles?.client ?? {})) {
      for (const r of asList(roles)) this.#addRole(`client:${clientId}:${r.name}`, r);
    }

    // Scope mappings: which roles a client scope (or a client) is limited to.
    for (const m of asList(rep.scopeMappings)) {
      for (const role of asList(m.roles)) this.#addScopeMapping(m, `realm:${role}`);
    }
    for (const [clientId, mappings] of Object.entries(rep.clientScopeMappings ?? {})) {
      for (const m of asList(mappings)) {
        for (const role of asList(m.roles)) this.#addScopeMapping(m, `client:${clientId}:${role}`);
      }
    }

    // Users.
    this.users = new Map();
    for (const u of asList(rep.users)) {
      if (u.serviceAccountClientId) continue;
      const password = asList(u.credentials).find((c) => c.type === 'password');
      const roles = new Set(asList(u.realmRoles).map((r) => `realm:${r}`));
      for (const [clientId, names] of Object.entries(u.clientRoles ?? {})) {
        for (const r of asList(names)) roles.add(`client:${clientId}:${r}`);
      }
      const user = {
        id: u.id || nameUuid(`user:${u.username}`),
        username: String(u.username).toLowerCase(),
        enabled: u.enabled === true,
        email: u.email,
        emailVerified: u.emailVerified === true,
        firstName: u.firstName,
        lastName: u.lastName,
        attributes: u.attributes ?? {},
        password: password?.value,
        passwordTemporary: password?.temporary === true,
        requiredActions: asList(u.requiredActions),
        roles: this.expandRoles(roles),
        serviceAccount: false,
      };
      this.users.set(user.id, user);
    }

    // Client registration policies (components) and client policies.
    const policies = asList(rep.components?.[REG_POLICY]);
    this.anonymousPolicies = policies.filter((p) => p.subType === 'anonymous');
    this.dcrPkceMethod = this.#dcrPkceFromClientPolicies(rep);

    this.dynamicClients = new Map();
  }

  static fromFile(path) {
    let text;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(`cannot read the realm file ${path}: ${err.message}`);
    }
    let rep;
    try {
      rep = JSON.parse(text);
    } catch (err) {
      throw new Error(`the realm file ${path} is not valid JSON: ${err.message}`);
    }
    return new Realm(rep, path);
  }

  #normaliseClient(c) {
    const attributes = c.attributes ?? {};
    const hasScopeLists = c.defaultClientScopes !== undefined || c.optionalClientScopes !== undefined;
    const consentRequired = c.consentRequired === true;
    return {
      clientId: c.clientId,
      enabled: c.enabled !== false,
      protocol: c.protocol ?? OIDC,
      publicClient: c.publicClient === true,
      bearerOnly: c.bearerOnly === true,
      // Keycloak's defaults when a field is absent from the representation.
      standardFlowEnabled: c.standardFlowEnabled !== false,
      implicitFlowEnabled: c.implicitFlowEnabled === true,
      directAccessGrantsEnabled: c.directAccessGrantsEnabled === true,
      serviceAccountsEnabled: c.serviceAccountsEnabled === true,
      consentRequired,
      fullScopeAllowed: c.fullScopeAllowed ?? !consentRequired,
      secret: c.secret,
      redirectUris: asList(c.redirectUris),
      // Keycloak derives web origins from the redirect URIs when the client names none.
      webOrigins: c.webOrigins !== undefined ? asList(c.webOrigins) : redirectOrigins(asList(c.redirectUris)),
      pkceMethod: attributes['pkce.code.challenge.method'] || undefined,
      protocolMappers: asList(c.protocolMappers),
      // A client without scope lists gets the realm's default client scopes.
      defaultClientScopes: (hasScopeLists ? asList(c.defaultClientScopes) : this.defaultDefaultClientScopes)
        .filter((n) => this.clientScopes.has(n)),
      optionalClientScopes: (hasScopeLists ? asList(c.optionalClientScopes) : this.defaultOptionalClientScopes)
        .filter((n) => this.clientScopes.has(n)),
      scopeMappings: [],
      dynamic: false,
    };
  }

  #addRole(key, rep) {
    const composites = new Set();
    for (const r of asList(rep.composites?.realm)) composites.add(`realm:${r}`);
    for (const [clientId, names] of Object.entries(rep.composites?.client ?? {})) {
      for (const r of asList(names)) composites.add(`client:${clientId}:${r}`);
    }
    this.composites.set(key, composites);
    if (key.startsWith('client:')) {
      const [, clientId, name] = key.match(/^client:([^:]*):(.*)$/) ?? [];
      if (!this.clientRoleNames.has(clientId)) this.clientRoleNames.set(clientId, new Set());
      this.clientRoleNames.get(clientId).add(name);
    }
  }

  #addScopeMapping(mapping, roleKey) {
    if (mapping.clientScope) {
      this.clientScopes.get(mapping.clientScope)?.scopeMappings.push(roleKey);
    } else if (mapping.client) {
      this.clients.get(mapping.client)?.scopeMappings.push(roleKey);
    }
  }

  /** Roles plus everything their composites contain. */
  expandRoles(keys) {
    const out = new Set();
    const stack = [...keys];
    while (stack.length) {
      const k = stack.pop();
      if (out.has(k)) continue;
      out.add(k);
      for (const c of this.composites.get(k) ?? []) stack.push(c);
    }
    return out;
  }

  #dcrPkceFromClientPolicies(rep) {
    const profiles = new Map(asList(rep.clientProfiles?.profiles).map((p) => [p.name, p]));
    for (const policy of asList(rep.clientPolicies?.policies)) {
      if (policy.enabled === false) continue;
      const byAnonymous = asList(policy.conditions).some((c) => c.condition === 'client-updater-context'
        && asList(c.configuration?.['update-client-source']).includes('ByAnonymous'));
      if (!byAnonymous) continue;
      for (const name of asList(policy.profiles)) {
        for (const ex of asList(profiles.get(name)?.executors)) {
          const auto = String(ex.configuration?.['auto-configure'] ?? 'false') === 'true';
          if (ex.executor === 'pkce-enforcer' && auto) return 'S256';
        }
      }
    }
    return undefined;
  }

  // ---------------------------------------------------------------- lookups

  client(clientId) {
    return this.clients.get(clientId) ?? this.dynamicClients.get(clientId);
  }

  userById(id) {
    return this.users.get(id);
  }

  userByUsername(username) {
    const wanted = String(username ?? '').toLowerCase();
    for (const u of this.users.values()) {
      if (u.username === wanted || (u.email && u.email.toLowerCase() === wanted)) return u;
    }
    return undefined;
  }

  /** The user behind a client's service account (client_credentials). No roles are modelled. */
  serviceAccountUser(clientId) {
    return {
      id: nameUuid(`service-account:${clientId}`),
      username: `service-account-${clientId}`.toLowerCase(),
      enabled: true,
      emailVerified: false,
      attributes: {},
      roles: new Set(),
      serviceAccount: true,
    };
  }

  /**
   * Username/password check as the direct grant does it. Returns the user or throws the
   * error Keycloak answers with.
   */
  authenticate(username, password) {
    const user = this.userByUsername(username);
    if (!user || typeof password !== 'string' || user.password === undefined || password !== user.password) {
      throw new KeycloakError(401, 'invalid_grant', 'Invalid user credentials');
    }
    if (!user.enabled) throw new KeycloakError(400, 'invalid_grant', 'Account disabled');
    if (user.passwordTemporary || user.requiredActions.length) {
      throw new KeycloakError(400, 'invalid_grant', 'Account is not fully set up');
    }
    return user;
  }

  /** Clients that oidc-provider must know (those that can obtain tokens). */
  loginClients() {
    return [...this.clients.values()].filter((c) => c.enabled && c.protocol === OIDC && !c.bearerOnly
      && (c.standardFlowEnabled || c.directAccessGrantsEnabled || c.serviceAccountsEnabled));
  }

  /** All scope values Keycloak would accept in a request, plus openid. */
  allScopeNames() {
    return ['openid', ...this.clientScopes.keys()];
  }

  discoveryScopes() {
    return ['openid', ...[...this.clientScopes.values()].filter((s) => s.inDiscovery).map((s) => s.name)];
  }

  // ------------------------------------------------------------------ scopes

  /** TokenManager.isValidScope: every requested value is openid or one of the client's scopes. */
  checkScopeParam(client, scopeParam) {
    if (!scopeParam) return;
    const own = new Set(['openid', ...client.defaultClientScopes, ...client.optionalClientScopes]);
    const bad = scopeParam.split(' ').filter((s) => s && !own.has(s));
    if (bad.length) throw new KeycloakError(400, 'invalid_scope', `Invalid scopes: ${scopeParam}`);
  }

  /**
   * The client scopes applied to a token: the client's default scopes, the optional ones
   * named in the scope parameter, then only those the user may have (a scope with role
   * scope mappings needs at least one of those roles).
   */
  appliedClientScopes(client, scopeParam, user, { serviceAccount = false } = {}) {
    const requested = new Set(String(scopeParam ?? '').split(' ').filter(Boolean));
    const names = [...client.defaultClientScopes];
    if (serviceAccount && this.clientScopes.has('service_account')) names.push('service_account');
    for (const s of requested) if (client.optionalClientScopes.includes(s)) names.push(s);
    const out = [];
    for (const name of new Set(names)) {
      const scope = this.clientScopes.get(name);
      if (scope && this.#permitted(scope, user)) out.push(scope);
    }
    return out;
  }

  #permitted(scope, user) {
    if (!scope.scopeMappings.length) return true;
    const needed = this.expandRoles(scope.scopeMappings);
    for (const r of user.roles) if (needed.has(r)) return true;
    return false;
  }

  /** The roles that may appear in the token (full scope, or the client's scope mappings). */
  #rolesInScope(client, applied, user) {
    if (client.fullScopeAllowed) return new Set(user.roles);
    const allowed = new Set(client.scopeMappings);
    for (const name of this.clientRoleNames.get(client.clientId) ?? []) allowed.add(`client:${client.clientId}:${name}`);
    for (const s of applied) for (const r of s.scopeMappings) allowed.add(r);
    const expanded = this.expandRoles(allowed);
    return new Set([...user.roles].filter((r) => expanded.has(r)));
  }

  /** The space-separated scope claim: openid when asked for, then the applied scopes shown in tokens. */
  scopeString(applied, scopeParam) {
    const requested = String(scopeParam ?? '').split(' ');
    const parts = requested.includes('openid') ? ['openid'] : [];
    for (const s of applied) if (s.includeInTokenScope) parts.push(s.name);
    return parts.join(' ');
  }

  // ---------------------------------------------------------------- claims

  /**
   * The Keycloak-shaped claims of an access token (target 'access'), userinfo response
   * ('userinfo') or ID token ('id'), without iss/iat/exp/jti (the caller owns those).
   */
  tokenClaims({ client, user, scopeParam, target = 'access', session = {} }) {
    const serviceAccount = user.serviceAccount === true;
    const applied = this.appliedClientScopes(client, scopeParam, user, { serviceAccount });
    const roles = this.#rolesInScope(client, applied, user);
    const scope = this.scopeString(applied, scopeParam);
    const mappers = [...client.protocolMappers, ...applied.flatMap((s) => s.protocolMappers)]
      .filter((m) => (m.protocol ?? OIDC) === OIDC);

    const claims = {};
    const aud = new Set();
    let resolveAudience = false;
    for (const m of mappers) {
      const type = m.protocolMapper;
      const config = m.config ?? {};
      if (type === 'oidc-audience-resolve-mapper') {
        resolveAudience = target === 'access';
        continue;
      }
      if (!includedIn(config, target, type)) continue;
      switch (type) {
        case 'oidc-sub-mapper':
          claims.sub = user.id;
          break;
        case 'oidc-usermodel-attribute-mapper':
        case 'oidc-usermodel-property-mapper':
          setClaim(claims, config, userAttribute(user, config['user.attribute']));
          break;
        case 'oidc-full-name-mapper': {
          const name = [user.firstName, user.lastName].filter(Boolean).join(' ');
          if (name) claims.name = name;
          break;
        }
        case 'oidc-usersessionmodel-note-mapper':
          setClaim(claims, config, sessionNote(config['user.session.note'], { ...session, client, serviceAccount }));
          break;
        case 'oidc-usermodel-realm-role-mapper': {
          const names = [...roles].filter((r) => r.startsWith('realm:')).map((r) => r.slice(6));
          if (names.length) setClaim(claims, { ...config, multivalued: 'true' }, names);
          break;
        }
        case 'oidc-usermodel-client-role-mapper': {
          const only = config['usermodel.clientRoleMapping.clientId'];
          for (const [clientId, names] of clientRoles(roles)) {
            if (only && only !== clientId) continue;
            const claimName = String(config['claim.name'] ?? '').replaceAll('${client_id}', clientId);
            setClaim(claims, { ...config, 'claim.name': claimName, multivalued: 'true' }, names);
          }
          break;
        }
        case 'oidc-audience-mapper':
          if (target !== 'access' && target !== 'id') break;
          if (config['included.client.audience'] && this.client(config['included.client.audience'])) {
            aud.add(config['included.client.audience']);
          }
          if (config['included.custom.audience']) aud.add(config['included.custom.audience']);
          break;
        case 'oidc-allowed-origins-mapper': {
          const origins = this.allowedOrigins(client);
          if (origins.length) claims['allowed-origins'] = origins;
          break;
        }
        case 'oidc-acr-mapper':
          claims.acr = '1';
          break;
        default:
          // Other mapper types are not modelled (README: "Differences").
          break;
      }
    }
    if (resolveAudience) {
      // AudienceResolveProtocolMapper: every client the token carries roles of, except azp.
      for (const [clientId] of clientRoles(roles)) if (clientId !== client.clientId) aud.add(clientId);
    }
    return { claims, aud: [...aud], scope, applied };
  }

  // ---------------------------------------------------- redirect URIs (RedirectUtils)

  redirectUriAllowed(client, redirectUri) {
    const valid = client.redirectUris;
    if (!valid.length || typeof redirectUri !== 'string') return false;
    let r = lowerCaseHost(redirectUri);
    if (r === undefined) return false;
    if (matchesRedirects(valid, r)) return true;
    // Keycloak retries loopback redirects without their port (RFC 8252 section 7.3).
    const loopback = ['http://localhost', 'http://127.0.0.1'];
    if (loopback.some((p) => r.startsWith(p)) && r.indexOf(':', 'http://localhost'.length) >= 0) {
      const i = r.indexOf(':', 'http://localhost'.length);
      const j = r.indexOf('/', i);
      r = r.slice(0, i) + (j >= 0 ? r.slice(j) : '');
      return matchesRedirects(valid, r);
    }
    return false;
  }

  // ------------------------------------------- anonymous client registration (DCR)

  /**
   * Applies the realm's anonymous client registration policies to an RFC 7591 request and
   * returns the Keycloak view of the client to be created. Throws Keycloak's 403
   * insufficient_scope error when a policy refuses.
   */
  applyAnonymousRegistrationPolicies(body, remoteAddress) {
    const client = {
      clientId: undefined,
      enabled: true,
      protocol: OIDC,
      publicClient: body.token_endpoint_auth_method === 'none',
      bearerOnly: false,
      standardFlowEnabled: asList(body.grant_types ?? ['authorization_code']).includes('authorization_code'),
      implicitFlowEnabled: false,
      directAccessGrantsEnabled: asList(body.grant_types).includes('password'),
      serviceAccountsEnabled: asList(body.grant_types).includes('client_credentials'),
      consentRequired: false,
      fullScopeAllowed: true,
      redirectUris: asList(body.redirect_uris),
      webOrigins: redirectOrigins(asList(body.redirect_uris)),
      pkceMethod: undefined,
      protocolMappers: [],
      defaultClientScopes: [...this.defaultDefaultClientScopes],
      optionalClientScopes: [...this.defaultOptionalClientScopes],
      requestedScope: undefined,
      scopeMappings: [],
      dynamic: true,
    };
    if (typeof body.scope === 'string' && body.scope.trim()) {
      // Keycloak 26 (before 26.8): a `scope` member becomes the optional client scopes and
      // the default client scopes shrink to "basic" only.
      const names = body.scope.split(' ').filter(Boolean);
      client.requestedScope = names;
      client.optionalClientScopes = names;
      client.defaultClientScopes = this.clientScopes.has('basic') ? ['basic'] : [];
    }

    for (const policy of this.anonymousPolicies) {
      const fail = (details) => {
        throw new KeycloakError(403, 'insufficient_scope',
          `Policy '${policy.name}' rejected request to client-registration service. Details: ${details}`);
      };
      const config = policy.config ?? {};
      switch (policy.providerId) {
        case 'trusted-hosts':
          this.#trustedHosts(config, body, remoteAddress, fail);
          break;
        case 'allowed-client-templates':
          this.#allowedClientScopes(config, client, fail);
          break;
        case 'max-clients': {
          const max = Number(first(config, 'max-clients') ?? 200);
          if (this.clients.size + this.dynamicClients.size >= max) fail(`It's allowed to have max ${max} clients per realm`);
          break;
        }
        case 'consent-required':
          client.consentRequired = true;
          break;
        case 'scope':
          client.fullScopeAllowed = false;
          break;
        default:
          // allowed-protocol-mappers, registration-web-origins: nothing an RFC 7591 request can trip.
          break;
      }
    }
    // Unknown client scope names are dropped, as Keycloak does ("doesn't exist. Ignoring").
    client.optionalClientScopes = client.optionalClientScopes.filter((n) => this.clientScopes.has(n));
    if (this.dcrPkceMethod) client.pkceMethod = this.dcrPkceMethod;
    return client;
  }

  #trustedHosts(config, body, remoteAddress, fail) {
    const entries = asList(config['trusted-hosts']);
    const hosts = entries.filter((h) => !h.startsWith('*.'));
    const trusted = (host) => typeof host === 'string' && (hosts.includes(host)
      || entries.some((d) => (d.startsWith('*.') ? host === d.slice(2) || host.endsWith(d.slice(1)) : host === d)));
    const mustMatch = (key) => { const v = first(config, key); return v === undefined || v === 'true'; };

    if (mustMatch('host-sending-registration-request-must-match')) {
      const addr = String(remoteAddress ?? '').replace(/^::ffff:/, '');
      const loopback = addr === '127.0.0.1' || addr === '::1';
      const ok = hosts.includes(addr) || (loopback && (hosts.includes('localhost') || hosts.includes('127.0.0.1')));
      if (!ok) fail('Host not trusted.');
    }
    if (mustMatch('client-uris-must-match')) {
      for (const uri of [...asList(body.redirect_uris), ...asList(body.client_uri)]) {
        let host;
        try {
          host = new URL(uri).hostname;
        } catch {
          fail('URI is malformed');
        }
        if (!trusted(host)) fail("URI doesn't match any trusted host or trusted domain");
      }
    }
  }

  #allowedClientScopes(config, client, fail) {
    if (!client.requestedScope) return;
    const allowed = new Set(asList(config['allowed-client-scopes']));
    if (first(config, 'allow-default-scopes') !== 'false') {
      for (const n of this.defaultDefaultClientScopes) allowed.add(n);
      for (const n of this.defaultOptionalClientScopes) allowed.add(n);
    }
    for (const n of client.requestedScope) if (!allowed.has(n)) fail('Not permitted to use specified clientScope');
  }

  /** The client's web origins, "+" standing for the origins of its redirect URIs. */
  allowedOrigins(client) {
    return webOrigins(client);
  }

  registerDynamicClient(clientId, kcClient) {
    this.dynamicClients.set(clientId, { ...kcClient, clientId });
  }
}

// ------------------------------------------------------------------ helpers

function includedIn(config, target, type) {
  // OIDCAttributeMapperHelper: a missing "access.token.claim" means yes (backwards
  // compatibility); userinfo defaults to the ID token setting.
  const at = config['access.token.claim'];
  const id = config['id.token.claim'];
  const ui = config['userinfo.token.claim'];
  switch (target) {
    case 'access': return at === undefined || at === 'true';
    case 'id': return id === 'true';
    case 'userinfo': return ui === undefined ? id === 'true' : ui === 'true';
    default: return type === undefined;
  }
}

function userAttribute(user, attr) {
  switch (attr) {
    case 'username': return user.username;
    case 'email': return user.email;
    case 'firstName': return user.firstName;
    case 'lastName': return user.lastName;
    case 'emailVerified': return user.emailVerified;
    default: {
      const v = user.attributes?.[attr];
      return Array.isArray(v) ? v[0] : v;
    }
  }
}

function sessionNote(note, { authTime, client, clientAddress }) {
  switch (note) {
    case 'AUTH_TIME': return authTime;
    case 'client_id': return client.clientId;
    case 'clientHost':
    case 'clientAddress': return clientAddress;
    default: return undefined;
  }
}

function convert(value, type) {
  switch (String(type ?? 'String').toLowerCase()) {
    case 'long':
    case 'int': { const n = Number(value); return Number.isFinite(n) ? n : undefined; }
    case 'boolean': return value === true || value === 'true';
    default: return typeof value === 'string' ? value : String(value);
  }
}

function setClaim(claims, config, value) {
  if (value === undefined || value === null || value === '') return;
  const name = config['claim.name'];
  if (!name) return;
  const v = Array.isArray(value)
    ? value.map((x) => convert(x, config['jsonType.label']))
    : convert(value, config['jsonType.label']);
  if (v === undefined) return;
  // Dots in claim.name nest objects (realm_access.roles); "\." would escape one.
  const path = name.split(/(?<!\\)\./).map((p) => p.replaceAll('\\.', '.'));
  let node = claims;
  for (const p of path.slice(0, -1)) {
    if (typeof node[p] !== 'object' || node[p] === null) node[p] = {};
    node = node[p];
  }
  node[path.at(-1)] = config.multivalued === 'true' && !Array.isArray(v) ? [v] : v;
}

function clientRoles(roles) {
  const byClient = new Map();
  for (const r of roles) {
    const m = r.match(/^client:([^:]*):(.*)$/);
    if (!m) continue;
    if (!byClient.has(m[1])) byClient.set(m[1], []);
    byClient.get(m[1]).push(m[2]);
  }
  return byClient;
}

function redirectOrigins(redirectUris) {
  const out = new Set();
  for (const uri of redirectUris) {
    if (!String(uri).startsWith('http')) continue;
    try { out.add(new URL(uri.replace(/\*$/, '')).origin); } catch { /* not a URL */ }
  }
  return [...out];
}

function webOrigins(client) {
  const out = new Set();
  for (const o of client.webOrigins) {
    if (o === '+') {
      for (const origin of redirectOrigins(client.redirectUris)) out.add(origin);
    } else if (o && o !== '-') {
      out.add(o);
    }
  }
  return [...out];
}

function lowerCaseHost(uri) {
  try {
    const u = new URL(uri);
    const hostStart = uri.indexOf('//') + 2;
    const hostEnd = uri.indexOf('/', hostStart);
    const authority = hostEnd === -1 ? uri.slice(hostStart) : uri.slice(hostStart, hostEnd);
    return `${u.protocol}//${authority.toLowerCase()}${hostEnd === -1 ? '' : uri.slice(hostEnd)}`;
  } catch {
    return undefined;
  }
}

function matchesRedirects(validRedirects, redirect) {
  for (let valid of validRedirects) {
    if (valid.endsWith('*') && !valid.includes('?')) {
      // Wildcards ignore the query and fragment of the requested URI.
      let idx = redirect.indexOf('?');
      if (idx === -1) idx = redirect.indexOf('#');
      const r = idx === -1 ? redirect : redirect.slice(0, idx);
      let length = valid.length - 1;
      valid = valid.slice(0, length);
      if (r.startsWith(valid)) return true;
      if (length - 1 > 0 && valid[length - 1] === '/') length -= 1;
      if (valid.slice(0, length) === r) return true;
    } else if (valid === redirect) {
      return true;
    }
  }
  return false;
}

