//! Step 9: one row of the realm verification table, and the table.

/// One line of the verification table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub what: String,
    /// What it must be.
    pub expected: String,
    /// What it was.
    pub actual: String,
    /// Did it match?
    pub ok: bool,
    /// What to fix when it did not.
    pub fix: String,
}

impl Check {
    /// A row: what was checked, what it must be, what it was, whether that is fine, and the fix.
    pub fn new(
        what: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
        ok: bool,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            what: what.into(),
            expected: expected.into(),
            actual: actual.into(),
            ok,
            fix: fix.into(),
        }
    }
}

/// Prints checks as a table.
pub fn render_table(checks: &[Check]) -> String {
    let w1 = checks
        .iter()
        .map(|c| c.what.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let w2 = checks
        .iter()
        .map(|c| c.expected.len())
        .max()
        .unwrap_or(8)
        .clamp(8, 48);
    let mut out = format!(
        "{:<4} {:<w1$}  {:<w2$}  {}\n",
        "", "check", "expected", "actual"
    );
    for c in checks {
        out.push_str(&format!(
            "{:<4} {:<w1$}  {:<w2$}  {}\n",
            if c.ok { "ok" } else { "FAIL" },
            c.what,
            c.expected,
            c.actual
        ));
    }
    for c in checks.iter().filter(|c| !c.ok) {
        out.push_str(&format!("fix: {}: {}\n", c.what, c.fix));
    }
    out
}
