#!/usr/bin/env node
// Interop check: the official MCP TypeScript SDK client against one of our servers.
//
//   node scripts/interop/sdk_client.mjs [--url http://127.0.0.1:9000/mcp] [--token T]
//        [--only all|tools|prompts] [--expect-forbidden METHOD[,METHOD...]]
//
// Runs initialize -> ping -> tools/list -> tools/call echo -> prompts/list -> prompts/get echo_prompt
// with the SDK's Client + StreamableHTTPClientTransport and asserts every answer strictly.
// --token T           sent as "Authorization: Bearer T" on every request (never printed).
// --only tools        initialize, tools/list and tools/call only; --only prompts likewise.
// --expect-forbidden  the named methods (tools/list, tools/call, prompts/list, prompts/get) must
//                     fail with HTTP 403 + WWW-Authenticate error="insufficient_scope".
// Prints one line per check ("ok - ..." / "not ok - ..."), then "N passed, M failed".
// Exit status: 0 all passed, 1 a check failed, 2 bad usage.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { Checks, describeError, isObject, parseFlags, show } from './harness.mjs';

const USAGE =
  'usage: sdk_client.mjs [--url URL] [--token TOKEN] [--only all|tools|prompts] ' +
  '[--expect-forbidden METHOD[,METHOD...]]';
const METHODS = ['tools/list', 'tools/call', 'prompts/list', 'prompts/get'];
const TIMEOUT_MS = 10_000;

const { opts, usage } = parseFlags(process.argv.slice(2), {
  script: 'sdk_client',
  usageText: USAGE,
  known: { '--url': 'url', '--token': 'token', '--only': 'only', '--expect-forbidden': 'forbidden' },
  defaults: { url: 'http://127.0.0.1:9000/mcp', token: undefined, only: 'all', forbidden: '' },
});
if (!['all', 'tools', 'prompts'].includes(opts.only)) usage('--only must be all, tools or prompts');
opts.forbidden = new Set(opts.forbidden.split(',').map((s) => s.trim()).filter(Boolean));
for (const m of opts.forbidden) {
  if (!METHODS.includes(m)) usage(`--expect-forbidden: unknown method ${m} (one of ${METHODS.join(', ')})`);
}
const checks = new Checks(opts.token);
const redact = (text) => checks.redact(text);
const ok = (name) => checks.ok(name);
const notOk = (name, why) => checks.notOk(name, why);
const check = (name, cond, why) => checks.check(name, cond, why);

// A fetch wrapper that remembers the last HTTP answer's status and WWW-Authenticate header,
// which the SDK does not surface in its errors.
let lastHttp = { status: undefined, wwwAuthenticate: null };
async function recordingFetch(input, init) {
  const response = await fetch(input, init);
  lastHttp = { status: response.status, wwwAuthenticate: response.headers.get('www-authenticate') };
  return response;
}


// Runs one MCP operation. If the method is expected to be forbidden, asserts an HTTP 403 with an
// insufficient_scope challenge and returns undefined; otherwise returns the result (or undefined
// after recording a failure).
async function operation(name, method, fn) {
  const forbidden = opts.forbidden.has(method);
  lastHttp = { status: undefined, wwwAuthenticate: null };
  try {
    const result = await fn();
    if (forbidden) notOk(`${name} is forbidden (HTTP 403)`, `call succeeded: ${show(result)}`);
    return forbidden ? undefined : result;
  } catch (err) {
    if (!forbidden) {
      notOk(name, describeError(err));
      return undefined;
    }
    const surfaced = describeError(err);
    console.log(`# ${method}: the SDK surfaced ${redact(surfaced)}`);
    console.log(`# ${method}: HTTP ${lastHttp.status}, WWW-Authenticate: ${redact(lastHttp.wwwAuthenticate ?? '(none)')}`);
    check(`${name} is forbidden (HTTP 403)`, err?.code === 403 && lastHttp.status === 403,
      `expected HTTP 403, got ${surfaced} (last HTTP status ${lastHttp.status})`);
    const challenge = lastHttp.wwwAuthenticate ?? '';
    check(`${name} 403 carries a Bearer insufficient_scope challenge`,
      /^Bearer\b/i.test(challenge) && /error="insufficient_scope"/.test(challenge) && /scope="[^"]+"/.test(challenge),
      `WWW-Authenticate was ${JSON.stringify(challenge)}`);
    return undefined;
  }
}

async function main() {
  const headers = opts.token ? { Authorization: `Bearer ${opts.token}` } : {};
  const transport = new StreamableHTTPClientTransport(new URL(opts.url), {
    requestInit: { headers },
    fetch: recordingFetch
  });
  const client = new Client({ name: 'mcp-auth-steps-sdk-client', version: '1.0.0' }, { capabilities: {} });
  client.onerror = () => {}; // background errors (e.g. the optional GET stream) are not checks

  console.log(`# server ${opts.url}${opts.token ? ' (with a bearer token)' : ''}, mode ${opts.only}` +
    (opts.forbidden.size ? `, expecting 403 for ${[...opts.forbidden].join(', ')}` : ''));

  // --- initialize ---------------------------------------------------------------------------
  try {
    await client.connect(transport, { timeout: TIMEOUT_MS });
  } catch (err) {
    notOk('initialize', `${describeError(err)} (last HTTP status ${lastHttp.status}` +
      `${lastHttp.wwwAuthenticate ? `, WWW-Authenticate: ${lastHttp.wwwAuthenticate}` : ''})`);
    return;
  }
  const info = client.getServerVersion();
  const caps = client.getServerCapabilities();
  check('initialize: serverInfo has name and version',
    isObject(info) && typeof info.name === 'string' && info.name !== '' && typeof info.version === 'string',
    `serverInfo ${show(info)}`);
  check('initialize: negotiated protocol version 2025-11-25', transport.protocolVersion === '2025-11-25',
    `negotiated ${show(transport.protocolVersion)}`);
  check('initialize: no Mcp-Session-Id issued (stateless server)', transport.sessionId === undefined,
    `session id was issued`);
  if (opts.only !== 'prompts') {
    check('initialize: capabilities.tools is {listChanged: false}',
      isObject(caps?.tools) && caps.tools.listChanged === false, `capabilities ${show(caps)}`);
  }
  if (opts.only !== 'tools') {
    check('initialize: capabilities.prompts is {listChanged: false}',
      isObject(caps?.prompts) && caps.prompts.listChanged === false, `capabilities ${show(caps)}`);
  }

  if (opts.only === 'all') {
    try {
      const pong = await client.ping({ timeout: TIMEOUT_MS });
      check('ping returns {}', isObject(pong) && Object.keys(pong).length === 0, `got ${show(pong)}`);
    } catch (err) {
      notOk('ping returns {}', describeError(err));
    }
  }

  // --- tools ----------------------------------------------------------------------------------
  if (opts.only !== 'prompts') {
    const list = await operation('tools/list', 'tools/list', () => client.listTools(undefined, { timeout: TIMEOUT_MS }));
    if (list) {
      const echo = Array.isArray(list.tools) ? list.tools.find((t) => t.name === 'echo') : undefined;
      if (check('tools/list: has the echo tool', echo !== undefined, `tools ${show(list.tools?.map((t) => t.name))}`)) {
        check('tools/list: echo title "Echo" and a description',
          echo.title === 'Echo' && typeof echo.description === 'string' && echo.description !== '',
          `title ${show(echo.title)}, description ${show(echo.description)}`);
        const s = echo.inputSchema ?? {};
        check('tools/list: echo inputSchema (message required string, repeat_count integer 1..10 default 1, no extra properties)',
          s.type === 'object' && Array.isArray(s.required) && s.required.includes('message') &&
          s.properties?.message?.type === 'string' && s.properties?.repeat_count?.type === 'integer' &&
          s.properties.repeat_count.minimum === 1 && s.properties.repeat_count.maximum === 10 &&
          s.properties.repeat_count.default === 1 && s.additionalProperties === false,
          `inputSchema ${show(s)}`);
        check('tools/list: echo outputSchema has text string',
          echo.outputSchema?.type === 'object' && echo.outputSchema?.properties?.text?.type === 'string',
          `outputSchema ${show(echo.outputSchema)}`);
        const a = echo.annotations ?? {};
        check('tools/list: echo annotations (readOnly, not destructive, idempotent, closed world)',
          a.readOnlyHint === true && a.destructiveHint === false && a.idempotentHint === true && a.openWorldHint === false,
          `annotations ${show(echo.annotations)}`);
      }
      check('tools/list: single page (no nextCursor)', list.nextCursor === undefined, `nextCursor ${show(list.nextCursor)}`);
    }

    const call = await operation('tools/call echo {message:"hello", repeat_count:2}', 'tools/call',
      () => client.callTool({ name: 'echo', arguments: { message: 'hello', repeat_count: 2 } }, undefined, { timeout: TIMEOUT_MS }));
    if (call) {
      const content = Array.isArray(call.content) ? call.content : [];
      check('tools/call echo: content is one text item "hellohello"',
        content.length === 1 && content[0].type === 'text' && content[0].text === 'hellohello',
        `content ${show(call.content)}`);
      check('tools/call echo: structuredContent is {text: "hellohello"}',
        isObject(call.structuredContent) && call.structuredContent.text === 'hellohello' &&
        Object.keys(call.structuredContent).length === 1,
        `structuredContent ${show(call.structuredContent)}`);
      check('tools/call echo: isError is false', call.isError === false, `isError ${show(call.isError)}`);
    }

    if (!opts.forbidden.has('tools/call')) {
      // Arguments that break the input schema: a tool result with isError, not a protocol error.
      const bad = await operation('tools/call echo {message:"x", repeat_count:11}', 'tools/call',
        () => client.callTool({ name: 'echo', arguments: { message: 'x', repeat_count: 11 } }, undefined, { timeout: TIMEOUT_MS }));
      if (bad) {
        check('tools/call echo with repeat_count 11: isError true with a text explanation',
          bad.isError === true && Array.isArray(bad.content) && bad.content[0]?.type === 'text' &&
          typeof bad.content[0].text === 'string' && bad.content[0].text !== '',
          `result ${show(bad)}`);
      }
      // Unknown tool: JSON-RPC -32602.
      try {
        const r = await client.callTool({ name: 'no_such_tool', arguments: {} }, undefined, { timeout: TIMEOUT_MS });
        notOk('tools/call unknown tool: JSON-RPC error -32602', `got a result ${show(r)}`);
      } catch (err) {
        check('tools/call unknown tool: JSON-RPC error -32602', err?.code === -32602, describeError(err));
      }
    }
  }

  // --- prompts --------------------------------------------------------------------------------
  if (opts.only !== 'tools') {
    const list = await operation('prompts/list', 'prompts/list', () => client.listPrompts(undefined, { timeout: TIMEOUT_MS }));
    if (list) {
      const p = Array.isArray(list.prompts) ? list.prompts.find((x) => x.name === 'echo_prompt') : undefined;
      if (check('prompts/list: has echo_prompt', p !== undefined, `prompts ${show(list.prompts?.map((x) => x.name))}`)) {
        check('prompts/list: echo_prompt has a description', typeof p.description === 'string' && p.description !== '',
          `description ${show(p.description)}`);
        check('prompts/list: echo_prompt has one required argument "message"',
          Array.isArray(p.arguments) && p.arguments.length === 1 && p.arguments[0].name === 'message' &&
          p.arguments[0].required === true,
          `arguments ${show(p.arguments)}`);
      }
      check('prompts/list: single page (no nextCursor)', list.nextCursor === undefined, `nextCursor ${show(list.nextCursor)}`);
    }

    const got = await operation('prompts/get echo_prompt {message:"hi"}', 'prompts/get',
      () => client.getPrompt({ name: 'echo_prompt', arguments: { message: 'hi' } }, { timeout: TIMEOUT_MS }));
    if (got) {
      const m = Array.isArray(got.messages) ? got.messages : [];
      check('prompts/get echo_prompt: one user message "Please echo: hi"',
        m.length === 1 && m[0].role === 'user' && m[0].content?.type === 'text' && m[0].content.text === 'Please echo: hi',
        `messages ${show(got.messages)}`);
      check('prompts/get echo_prompt: has a description', typeof got.description === 'string' && got.description !== '',
        `description ${show(got.description)}`);
    }
  }

  try { await client.close(); } catch { /* closing a stateless connection cannot fail a check */ }
}

await checks.finish(main);
