//! Step 11: the client's numbered trace, and the one helper that keeps secrets out of it.
//!
//! Every protocol step the `step11` client takes becomes one line `[n] …` on stdout, so a reader
//! can follow the whole flow (401 → metadata → registration → authorization → token → MCP calls).
//! Tokens, client secrets, authorization codes, PKCE verifiers and `state` values only ever
//! appear through [`redact`]: at most their first 6 characters and `…`.

use std::fmt::Display;

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
    fn trace_numbers_steps() {
        let mut trace = Trace::memory();
        trace.step("first");
        trace.detail("more");
        trace.step(format_args!("second {}", 2));
        assert_eq!(trace.lines(), ["[1] first", "    more", "[2] second 2"]);
    }
}
