//! Step 11: the client's numbered trace, and the one helper that keeps secrets out of it.
//!
//! Every protocol step the `step11` client takes becomes one line `[n] …` on stdout, so a reader
//! can follow the whole flow (401 → metadata → registration → authorization → token → MCP calls).
//! Tokens, client secrets, authorization codes, PKCE verifiers and `state` values only ever
//! appear through [`redact`]: at most their first 6 characters and `…`.
//!
//! Most of what a line shows came from servers this client has never seen, so nothing reaches
//! the terminal raw: every trace line and every error line goes through [`printable`], which
//! shows control characters escaped (an `ESC [2J` would clear the reader's screen, a newline would
//! forge a trace line of its own). Values that can be long (a `WWW-Authenticate` header, an error
//! description, a name) are shown through [`untrusted`], which also shortens them.

use std::borrow::Cow;
use std::fmt::{Display, Write as _};

/// How many leading characters of a secret [`redact`] may show.
pub const SHOWN_CHARS: usize = 6;

/// A secret, shortened for display: at most [`SHOWN_CHARS`] leading characters (never more than
/// half of a short value) followed by `…`. `redact("eyJhbGciOiJSUzI1NiJ9")` is `eyJhbG…`.
pub fn redact(secret: &str) -> String {
    let total = secret.chars().count();
    let shown = SHOWN_CHARS.min(total / 2);
    let mut out: String = secret.chars().take(shown).collect();
    out.push('…');
    out
}

/// How many characters of one value from the network [`untrusted`] shows.
pub const SHOWN_VALUE_CHARS: usize = 300;

/// How many characters of one line [`printable_line`] shows (a backstop for a long value shown
/// without [`untrusted`]).
pub const SHOWN_LINE_CHARS: usize = 4000;

/// True for what must not reach a terminal raw: C0 controls (newline and tab included), DEL, C1
/// controls (Unicode category Cc), the bidirectional embeddings, overrides, isolates and marks
/// (they reorder what the reader sees, the "Trojan Source" trick), and the Unicode line and
/// paragraph separators.
// ANCHOR: must_escape
fn must_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}
// ANCHOR_END: must_escape

/// Text from the network, made safe for a terminal: `\n`, `\r`, `\t`, `\x1b` (two hex digits
/// up to U+00FF), `\u{202e}` (above); everything else as it is. Borrowed when nothing needed
/// escaping, so the trace of a well-behaved server is unchanged.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(must_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if must_escape(c) && (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if must_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `text` cut to `limit` characters, with what was left out said: `…(65536 bytes in all)`.
fn shortened(text: &str, limit: usize, whole: usize) -> Cow<'_, str> {
    match text.char_indices().nth(limit) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => Cow::Owned(format!("{}…({whole} bytes in all)", &text[..cut])),
    }
}

/// One value from the network, for a trace or an error line: [`printable`], and at most
/// [`SHOWN_VALUE_CHARS`] characters of it, with its length when it was longer.
pub fn untrusted(value: &str) -> String {
    shortened(&printable(value), SHOWN_VALUE_CHARS, value.len()).into_owned()
}

/// One whole line for the terminal: [`printable`], and at most [`SHOWN_LINE_CHARS`] characters.
/// Every trace line and the binary's error line go through it.
pub fn printable_line(line: &str) -> Cow<'_, str> {
    match printable(line) {
        Cow::Borrowed(b) => shortened(b, SHOWN_LINE_CHARS, line.len()),
        Cow::Owned(o) => Cow::Owned(shortened(&o, SHOWN_LINE_CHARS, line.len()).into_owned()),
    }
}

/// Where the trace lines go.
#[derive(Debug)]
enum Sink {
    Stdout,
    Memory(Vec<String>),
}

/// The numbered trace: `[1] …`, `[2] …`.
#[derive(Debug)]
pub struct Trace {
    step: u32,
    sink: Sink,
}

impl Trace {
    /// A trace printed to stdout as it happens.
    pub fn stdout() -> Self {
        Self {
            step: 0,
            sink: Sink::Stdout,
        }
    }

    /// A trace kept in memory (tests).
    pub fn memory() -> Self {
        Self {
            step: 0,
            sink: Sink::Memory(Vec::new()),
        }
    }

    /// Records the next numbered step.
    pub fn step(&mut self, message: impl Display) {
        self.step += 1;
        let line = format!("[{}] {message}", self.step);
        self.emit(line);
    }

    /// Records a detail line belonging to the previous step (indented, not numbered).
    pub fn detail(&mut self, message: impl Display) {
        let line = format!("    {message}");
        self.emit(line);
    }

    /// The lines recorded so far (empty for a stdout trace).
    pub fn lines(&self) -> &[String] {
        match &self.sink {
            Sink::Stdout => &[],
            Sink::Memory(lines) => lines,
        }
    }

    fn emit(&mut self, line: String) {
        let line = printable_line(&line).into_owned();
        match &mut self.sink {
            Sink::Stdout => println!("{line}"),
            Sink::Memory(lines) => lines.push(line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_keeps_at_most_six_characters() {
        assert_eq!(redact("eyJhbGciOiJSUzI1NiJ9.payload.sig"), "eyJhbG…");
        assert_eq!(redact("test-token-1712345678"), "test-t…");
    }

    #[test]
    fn redact_shows_at_most_half_of_a_short_value() {
        assert_eq!(redact(""), "…");
        assert_eq!(redact("a"), "…");
        assert_eq!(redact("abcd"), "ab…");
        assert_eq!(redact("abcdefghijkl"), "abcdef…");
    }

    #[test]
    fn redact_counts_characters_not_bytes() {
        assert_eq!(redact("ééééééééééééé"), "éééééé…");
    }

    #[test]
    fn control_characters_are_shown_escaped() {
        assert_eq!(printable("plain ✓ text…"), "plain ✓ text…");
        assert!(matches!(printable("plain"), Cow::Borrowed(_)));
        assert_eq!(printable("\u{1b}[2Jcleared"), "\\x1b[2Jcleared");
        assert_eq!(
            printable("\u{1b}]0;pwned\u{7}title"),
            "\\x1b]0;pwned\\x07title"
        );
        assert_eq!(
            printable("a\n[9] done: forged\r\tb"),
            "a\\n[9] done: forged\\r\\tb"
        );
        assert_eq!(printable("del\u{7f} c1\u{9b}"), "del\\x7f c1\\x9b");
        assert_eq!(
            printable("\u{202e}txt.exe\u{2066}\u{200f}"),
            "\\u{202e}txt.exe\\u{2066}\\u{200f}"
        );
        assert_eq!(printable("sep\u{2028}x"), "sep\\u{2028}x");
    }

    #[test]
    fn long_values_are_shortened_with_their_length() {
        let header = format!("Bearer error_description=\"{}\"", "A".repeat(65_536));
        let shown = untrusted(&header);
        assert_eq!(
            shown.chars().count(),
            SHOWN_VALUE_CHARS + "…(65563 bytes in all)".chars().count()
        );
        assert!(shown.ends_with("AAAA…(65563 bytes in all)"), "{shown}");
        assert_eq!(untrusted("short"), "short");
        // Escapes count toward the limit; the length is the original's.
        let escapes = "\u{1b}".repeat(100);
        assert_eq!(
            untrusted(&escapes),
            format!("{}…(100 bytes in all)", "\\x1b".repeat(75))
        );
    }

    #[test]
    fn trace_lines_cannot_be_forged_or_unbounded() {
        let mut trace = Trace::memory();
        trace.step("tools/list → 200: echo\n[9] done: forged");
        trace.detail(format_args!("x{}", "y".repeat(SHOWN_LINE_CHARS * 2)));
        assert_eq!(
            trace.lines()[0],
            "[1] tools/list → 200: echo\\n[9] done: forged"
        );
        assert_eq!(trace.lines().len(), 2);
        assert!(
            trace.lines()[1].ends_with("y…(8005 bytes in all)"),
            "{}",
            &trace.lines()[1][3990..]
        );
    }

    #[test]
    fn trace_numbers_steps() {
        let mut trace = Trace::memory();
        trace.step("first");
        trace.detail("more");
        trace.step(format_args!("second {}", 2));
        assert_eq!(trace.lines(), ["[1] first", "    more", "[2] second 2"]);
    }
}
