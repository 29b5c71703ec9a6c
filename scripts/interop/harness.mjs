// What the interop client scripts (sdk_client.mjs, sdk_v2_client.mjs) share: the command line,
// the check lines ("ok - ..." / "not ok - ..."), the token kept out of every line, the exit status.

/// Parses `--flag value` and `--flag=value` for the flags in `known` (name → option key);
/// `-h`/`--help` prints `usageText`. Bad usage prints the reason and exits 2.
export function parseFlags(argv, { script, usageText, known, defaults }) {
  const usage = (message) => {
    if (message) console.error(`${script}: ${message}`);
    console.error(usageText);
    process.exit(2);
  };
  const opts = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') { console.log(usageText); process.exit(0); }
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const key = known[flag];
    if (key === undefined) usage(`unknown argument ${JSON.stringify(flag)}`);
    if (inline !== undefined) opts[key] = inline;
    else if (i + 1 < argv.length) opts[key] = argv[++i];
    else usage(`${flag} needs a value`);
  }
  try { new URL(opts.url); } catch { usage(`--url is not a URL: ${opts.url}`); }
  if (opts.token !== undefined && opts.token.trim() === '') usage('--token is empty');
  return { opts, usage };
}

/// The check lines of one run. Nothing it prints contains the token in full.
export class Checks {
  constructor(token) {
    this.token = token;
    this.passed = 0;
    this.failed = 0;
  }

  redact(text) {
    let s = String(text);
    if (this.token) s = s.split(this.token).join('<redacted>');
    return s.replace(/Bearer\s+[A-Za-z0-9._~+/=-]{8,}/g, 'Bearer <redacted>');
  }

  ok(name) { this.passed++; console.log(`ok - ${name}`); }
  notOk(name, why) { this.failed++; console.log(`not ok - ${name}: ${this.redact(why)}`); }
  check(name, cond, why) { if (cond) this.ok(name); else this.notOk(name, why); return cond; }

  /// Runs `main`, counts an exception as a failed check, prints the totals and exits:
  /// 0 when every check passed (and there was one), 1 otherwise.
  async finish(main) {
    try {
      await main();
    } catch (err) {
      this.notOk('unexpected error', describeError(err));
    }
    console.log(`${this.passed} passed, ${this.failed} failed`);
    process.exit(this.failed > 0 || this.passed === 0 ? 1 : 0);
  }
}

export const show = (v) => JSON.stringify(v);
export const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/// An error as one line: its class, its code, the HTTP status an SDK put in `data`, its message.
export function describeError(err) {
  const parts = [`${err?.constructor?.name ?? 'Error'}`];
  if (err?.code !== undefined) parts.push(`code=${err.code}`);
  if (err?.data?.status !== undefined) parts.push(`status=${err.data.status}`);
  parts.push(`message=${JSON.stringify(String(err?.message ?? err))}`);
  return parts.join(' ');
}
