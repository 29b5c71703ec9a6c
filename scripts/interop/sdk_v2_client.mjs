#!/usr/bin/env node
// Interop check: the official MCP TypeScript SDK v2 client (`@modelcontextprotocol/client`) in the
// modern era (MCP 2026-07-28: server/discover, no initialize) against one of our servers.
//
//   node scripts/interop/sdk_v2_client.mjs [--url http://127.0.0.1:9000/mcp] [--token T]
//        [--client-name NAME] [--expect-forbidden tools/call]
//
// The SDK's Client with versionNegotiation {mode: 'auto'} + StreamableHTTPClientTransport:
// connect() probes server/discover and falls back to initialize only when the answer is not
// definitive modern evidence; this script then asserts that it did NOT fall back:
//   connect; the era is 'modern' at 2026-07-28; discover's supportedVersions has 2026-07-28;
//   every POST carried MCP-Protocol-Version: 2026-07-28 and Mcp-Method, none was initialize;
//   tools/list has echo; tools/call echo {message:"hi", repeat_count:2} -> "hihi" (text and
//   structuredContent.text).
// --token T            sent as "Authorization: Bearer T" (the SDK's AuthProvider {token}); never printed.
// --client-name NAME   clientInfo.name sent in every request's _meta (default interop-ts-v2): the
//                      server logs it as client="NAME", which test_interop.sh greps for.
// --expect-forbidden tools/call
//                      tools/call must fail with HTTP 403 + WWW-Authenticate error="insufficient_scope".
// Prints one line per check ("ok - ..." / "not ok - ..."), then "N passed, M failed".
// Exit status: 0 all passed, 1 a check failed, 2 bad usage.

import { Client, InsufficientScopeError, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

import { Checks, describeError, isObject, parseFlags, show } from './harness.mjs';

const USAGE =
  'usage: sdk_v2_client.mjs [--url URL] [--token TOKEN] [--client-name NAME] [--expect-forbidden tools/call]';
const MODERN = '2026-07-28';
const TIMEOUT_MS = 10_000;

const { opts, usage } = parseFlags(process.argv.slice(2), {
  script: 'sdk_v2_client',
  usageText: USAGE,
  known: { '--url': 'url', '--token': 'token', '--client-name': 'clientName', '--expect-forbidden': 'forbidden' },
  defaults: { url: 'http://127.0.0.1:9000/mcp', token: undefined, clientName: 'interop-ts-v2', forbidden: '' },
});
if (opts.clientName.trim() === '') usage('--client-name is empty');
opts.forbidden = new Set(opts.forbidden.split(',').map((s) => s.trim()).filter(Boolean));
for (const m of opts.forbidden) {
  if (m !== 'tools/call') usage(`--expect-forbidden: only tools/call is supported, not ${m}`);
}
const checks = new Checks(opts.token);
const redact = (text) => checks.redact(text);
const ok = (name) => checks.ok(name);
const notOk = (name, why) => checks.notOk(name, why);
const check = (name, cond, why) => checks.check(name, cond, why);

// A fetch wrapper that remembers every POST the SDK sent (JSON-RPC method, MCP-Protocol-Version
// and Mcp-Method headers) and the last HTTP answer's status and WWW-Authenticate header, which
// the SDK's errors do not carry.
const posts = [];
let lastHttp = { status: undefined, wwwAuthenticate: null };
async function recordingFetch(input, init) {
  if ((init?.method ?? 'GET').toUpperCase() === 'POST') {
    const headers = new Headers(init?.headers);
    let method = '(unparsed)';
    try { method = JSON.parse(String(init.body)).method ?? '(response)'; } catch { /* not JSON: leave it */ }
    posts.push({ method, protocolVersion: headers.get('mcp-protocol-version'), mcpMethod: headers.get('mcp-method') });
  }
  const response = await fetch(input, init);
  lastHttp = { status: response.status, wwwAuthenticate: response.headers.get('www-authenticate') };
  return response;
}


async function main() {
  // The SDK's own bearer-token seam: AuthProvider.token() is called before every request.
  // onInsufficientScope 'throw': a static token cannot be stepped up, so a 403
  // insufficient_scope must surface as InsufficientScopeError (the default, 'reauthorize',
  // also throws it when no OAuth provider is configured, after the same checks).
  const transport = new StreamableHTTPClientTransport(new URL(opts.url), {
    fetch: recordingFetch,
    onInsufficientScope: 'throw',
    ...(opts.token ? { authProvider: { token: async () => opts.token } } : {})
  });
  const client = new Client({ name: opts.clientName, version: '1.0.0' }, {
    capabilities: {},
    versionNegotiation: { mode: 'auto' }
  });
  client.onerror = () => {}; // background errors (e.g. an optional GET stream) are not checks

  console.log(`# server ${opts.url}${opts.token ? ' (with a bearer token)' : ''}, client name ${opts.clientName}` +
    (opts.forbidden.size ? `, expecting 403 for ${[...opts.forbidden].join(', ')}` : ''));

  // --- connect: server/discover probe, era negotiation ------------------------------------------
  try {
    await client.connect(transport, { timeout: TIMEOUT_MS });
    ok('connect (versionNegotiation auto)');
  } catch (err) {
    notOk('connect (versionNegotiation auto)', `${describeError(err)} (last HTTP status ${lastHttp.status}` +
      `${lastHttp.wwwAuthenticate ? `, WWW-Authenticate: ${lastHttp.wwwAuthenticate}` : ''}; POSTs sent: ${show(posts.map((p) => p.method))})`);
    return;
  }
  console.log(`# connect sent: ${posts.map((p) => `${p.method} (MCP-Protocol-Version ${p.protocolVersion ?? 'none'})`).join(', ')}`);
  check("era is 'modern' (no fallback to initialize)", client.getProtocolEra() === 'modern',
    `getProtocolEra() is ${show(client.getProtocolEra())}; connect sent ${show(posts.map((p) => p.method))}`);
  check(`negotiated protocol version ${MODERN}`, client.getNegotiatedProtocolVersion() === MODERN,
    `getNegotiatedProtocolVersion() is ${show(client.getNegotiatedProtocolVersion())}`);
  const discover = client.getDiscoverResult();
  check(`server/discover: supportedVersions includes ${MODERN}`,
    Array.isArray(discover?.supportedVersions) && discover.supportedVersions.includes(MODERN),
    `discover result ${show(discover)}`);
  check('server/discover: capabilities.tools present', isObject(discover?.capabilities?.tools),
    `capabilities ${show(discover?.capabilities)}`);
  const info = client.getServerVersion();
  console.log(`# server identifies as ${show(info)}; supportedVersions ${show(discover?.supportedVersions)}`);

  // --- tools/list -----------------------------------------------------------------------------
  try {
    const list = await client.listTools(undefined, { timeout: TIMEOUT_MS });
    check('tools/list: has the echo tool', Array.isArray(list?.tools) && list.tools.some((t) => t.name === 'echo'),
      `tools ${show(list?.tools?.map((t) => t.name))}`);
  } catch (err) {
    notOk('tools/list: has the echo tool', describeError(err));
  }

  // --- tools/call echo ------------------------------------------------------------------------
  const callName = 'tools/call echo {message:"hi", repeat_count:2}';
  const forbidden = opts.forbidden.has('tools/call');
  lastHttp = { status: undefined, wwwAuthenticate: null };
  try {
    const call = await client.callTool({ name: 'echo', arguments: { message: 'hi', repeat_count: 2 } }, { timeout: TIMEOUT_MS });
    if (forbidden) {
      notOk(`${callName} is forbidden (HTTP 403)`, `call succeeded: ${show(call)}`);
    } else {
      const content = Array.isArray(call?.content) ? call.content : [];
      check(`${callName}: content is one text item "hihi"`,
        content.length === 1 && content[0].type === 'text' && content[0].text === 'hihi', `content ${show(call?.content)}`);
      check(`${callName}: structuredContent.text is "hihi"`,
        isObject(call?.structuredContent) && call.structuredContent.text === 'hihi',
        `structuredContent ${show(call?.structuredContent)}`);
      check(`${callName}: isError is not true`, call?.isError !== true, `isError ${show(call?.isError)}`);
    }
  } catch (err) {
    if (!forbidden) {
      notOk(callName, describeError(err));
    } else {
      console.log(`# tools/call: the SDK surfaced ${redact(describeError(err))}`);
      console.log(`# tools/call: HTTP ${lastHttp.status}, WWW-Authenticate: ${redact(lastHttp.wwwAuthenticate ?? '(none)')}`);
      check(`${callName} is forbidden (HTTP 403)`, lastHttp.status === 403,
        `expected HTTP 403, got ${describeError(err)} (last HTTP status ${lastHttp.status})`);
      const challenge = lastHttp.wwwAuthenticate ?? '';
      check(`${callName} 403 carries a Bearer insufficient_scope challenge`,
        /^Bearer\b/i.test(challenge) && /error="insufficient_scope"/.test(challenge) && /scope="[^"]+"/.test(challenge),
        `WWW-Authenticate was ${JSON.stringify(challenge)}`);
      // The SDK parses the challenge into InsufficientScopeError; its requiredScope is the
      // challenge's scope="..." parameter.
      const scope = /scope="([^"]*)"/.exec(challenge)?.[1];
      check(`${callName}: the SDK raises InsufficientScopeError with the challenge's scope`,
        err instanceof InsufficientScopeError && scope !== undefined && err.requiredScope === scope,
        `${describeError(err)}, requiredScope ${show(err?.requiredScope)}, challenge scope ${show(scope)}`);
    }
  }

  // --- what went over the wire ------------------------------------------------------------------
  check(`every POST carried MCP-Protocol-Version: ${MODERN}`, posts.length > 0 && posts.every((p) => p.protocolVersion === MODERN),
    `POSTs ${show(posts)}`);
  check('every POST carried an Mcp-Method header equal to its JSON-RPC method',
    posts.length > 0 && posts.every((p) => p.mcpMethod === p.method), `POSTs ${show(posts)}`);
  check('no initialize was sent', !posts.some((p) => p.method === 'initialize' || p.method === 'notifications/initialized'),
    `POSTs ${show(posts.map((p) => p.method))}`);

  try { await client.close(); } catch { /* closing a stateless connection cannot fail a check */ }
}

await checks.finish(main);
