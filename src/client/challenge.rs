//! Step 11: reading a `WWW-Authenticate` field — the first thing an MCP host does with a bare
//! `401` or `403` (RFC 9110 §11.6.1 syntax; RFC 6750 §3 for Bearer's `error` and `scope`;
//! RFC 9728 §5.1 for `resource_metadata`). [`parse_www_authenticate`] splits the field into
//! challenges without ever failing on junk; [`BearerChallenge`] is what the host acts on.
//! Discovery (`client::discovery`) takes it from there.

use crate::client::trace::untrusted;

/// One challenge of a `WWW-Authenticate` field: a scheme and either a token68 or auth-params.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The auth-scheme as sent (compare it case-insensitively).
    pub scheme: String,
    /// `Basic dXNlcjpwYXNz`-style credentials, when the challenge carries a token68.
    pub token68: Option<String>,
    /// auth-params in order, names lower-cased, quoted-string values unescaped.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The first value of a parameter (names are case-insensitive; a repeated name is invalid
    /// per RFC 9110 §11.2, so only the first one counts).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses one `WWW-Authenticate` field value into its challenges (RFC 9110 §11.6.1):
/// `challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]`, challenges and params both
/// separated by commas, `auth-param = token BWS "=" BWS ( token / quoted-string )`.
///
/// Lenient and total: it never panics, skips what it cannot read up to the next comma, and keeps
/// what it could read (an unterminated quoted-string ends at the end of the field).
pub fn parse_www_authenticate(value: &str) -> Vec<Challenge> {
    let mut c = Cursor {
        s: value.as_bytes(),
        i: 0,
    };
    let mut out = Vec::new();
    loop {
        c.skip_ws_and_commas();
        if c.eof() {
            break;
        }
        let Some(scheme) = c.token() else {
            c.skip_to_comma();
            continue;
        };
        if c.peek() == Some(b'=') {
            // `name=value` where a scheme should be: a stray parameter, not a challenge.
            c.skip_to_comma();
            continue;
        }
        let mut challenge = Challenge {
            scheme,
            token68: None,
            params: Vec::new(),
        };
        c.skip_ws();
        if let Some(t68) = c.token68() {
            challenge.token68 = Some(t68);
        } else {
            c.params(&mut challenge.params);
        }
        out.push(challenge);
    }
    out
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eof(&self) -> bool {
        self.i >= self.s.len()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn skip_ws_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }

    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    /// A token68 is only a token68 when nothing but spaces follows it before a comma or the end.
    fn token68(&mut self) -> Option<String> {
        let start = self.i;
        while self.peek().is_some_and(is_token68_char) {
            self.i += 1;
        }
        if self.i == start {
            return None;
        }
        while self.peek() == Some(b'=') {
            self.i += 1;
        }
        let end = self.i;
        self.skip_ws();
        if self.eof() || self.peek() == Some(b',') {
            Some(String::from_utf8_lossy(&self.s[start..end]).into_owned())
        } else {
            self.i = start;
            None
        }
    }

    /// A quoted-string (the cursor is on its opening `"`), with `\x` escapes undone.
    fn quoted(&mut self) -> String {
        let mut buf = Vec::new();
        self.i += 1;
        while let Some(b) = self.peek() {
            self.i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(escaped) = self.peek() {
                        buf.push(escaped);
                        self.i += 1;
                    }
                }
                other => buf.push(other),
            }
        }
        String::from_utf8_lossy(&buf).into_owned()
    }

    fn skip_to_comma(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b',' => break,
                b'"' => {
                    self.quoted();
                }
                _ => self.i += 1,
            }
        }
    }

    /// auth-params until a token that is not followed by `=` (the next challenge's scheme).
    fn params(&mut self, params: &mut Vec<(String, String)>) {
        loop {
            let save = self.i;
            self.skip_ws_and_commas();
            if self.eof() {
                return;
            }
            let Some(name) = self.token() else {
                self.skip_to_comma();
                continue;
            };
            self.skip_ws();
            if self.peek() != Some(b'=') {
                self.i = save;
                return;
            }
            self.i += 1;
            self.skip_ws();
            let value = if self.peek() == Some(b'"') {
                self.quoted()
            } else {
                self.token().unwrap_or_default()
            };
            params.push((name.to_ascii_lowercase(), value));
            self.skip_ws();
            if !self.eof() && self.peek() != Some(b',') {
                self.skip_to_comma();
            }
        }
    }
}

/// What a client needs from a `Bearer` challenge (RFC 6750 §3, RFC 9728 §5.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BearerChallenge {
    /// `error`, e.g. `invalid_token` or `insufficient_scope`.
    pub error: Option<String>,
    /// `error_description`.
    pub error_description: Option<String>,
    /// `scope`: the scopes the resource wants (MCP 2025-11-25 scope selection, step 1).
    pub scope: Option<String>,
    /// `resource_metadata`: where the Protected Resource Metadata is.
    pub resource_metadata: Option<String>,
    /// The server also (or only) challenged with the `DPoP` scheme (RFC 9449 §7.1): it takes
    /// DPoP-bound tokens.
    pub dpop: bool,
}

impl BearerChallenge {
    /// The challenge to act on among the `WWW-Authenticate` field values: of the `Bearer` and
    /// `DPoP` challenges (RFC 6750 §3, RFC 9449 §7.1; both carry the same parameters), the first
    /// with an `error`, else the first `Bearer`, else the first `DPoP`. `None` when there is
    /// neither.
    pub fn from_header_values<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        let ours: Vec<Challenge> = values
            .into_iter()
            .flat_map(parse_www_authenticate)
            .filter(|c| {
                c.scheme.eq_ignore_ascii_case("bearer") || c.scheme.eq_ignore_ascii_case("dpop")
            })
            .collect();
        let dpop = ours.iter().any(|c| c.scheme.eq_ignore_ascii_case("dpop"));
        let chosen = ours
            .iter()
            .find(|c| c.param("error").is_some())
            .or_else(|| {
                ours.iter()
                    .find(|c| c.scheme.eq_ignore_ascii_case("bearer"))
            })
            .or_else(|| ours.first())?;
        let get = |name: &str| chosen.param(name).map(str::to_string);
        Some(Self {
            error: get("error"),
            error_description: get("error_description"),
            scope: get("scope"),
            resource_metadata: get("resource_metadata"),
            dpop,
        })
    }

    /// The `Bearer` challenge of a response's `WWW-Authenticate` fields.
    pub fn from_headers(headers: &reqwest::header::HeaderMap) -> Option<Self> {
        Self::from_header_values(
            headers
                .get_all(reqwest::header::WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok()),
        )
    }

    /// The challenge's `scope`, when it names at least one scope.
    pub fn scope(&self) -> Option<&str> {
        self.scope
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// The challenge in an error message: its `error`, `error_description` (made printable) and
    /// `scope`, or what is missing.
    pub fn describe(challenge: Option<&Self>) -> String {
        let Some(c) = challenge else {
            return "no Bearer or DPoP challenge".into();
        };
        let mut parts = Vec::new();
        if let Some(e) = &c.error {
            parts.push(format!("error={e}"));
        }
        if let Some(d) = &c.error_description {
            parts.push(format!("error_description={:?}", untrusted(d)));
        }
        if let Some(s) = &c.scope {
            parts.push(format!("scope={s:?}"));
        }
        if parts.is_empty() {
            "Bearer challenge without error".into()
        } else {
            parts.join(", ")
        }
    }

    /// `error="insufficient_scope"` (RFC 6750 §3.1): a step-up may help.
    pub fn is_insufficient_scope(&self) -> bool {
        self.error.as_deref() == Some("insufficient_scope")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(c: &Challenge) -> Vec<(&str, &str)> {
        c.params
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn parses_a_bearer_challenge_with_quoted_values() {
        let cs = parse_www_authenticate(
            r#"Bearer realm="mcp", error="invalid_token", error_description="token expired", resource_metadata="http://localhost:9000/.well-known/oauth-protected-resource/mcp", scope="mcp:read mcp:tools""#,
        );
        assert_eq!(cs.len(), 1);
        assert_eq!(cs[0].scheme, "Bearer");
        assert_eq!(cs[0].param("error"), Some("invalid_token"));
        assert_eq!(cs[0].param("scope"), Some("mcp:read mcp:tools"));
        assert_eq!(
            cs[0].param("resource_metadata"),
            Some("http://localhost:9000/.well-known/oauth-protected-resource/mcp")
        );
    }

    #[test]
    fn scheme_and_param_names_are_case_insensitive() {
        let b = BearerChallenge::from_header_values([
            r#"bEaReR SCOPE="a b", Error=insufficient_scope"#,
        ])
        .unwrap();
        assert_eq!(b.scope(), Some("a b"));
        assert!(b.is_insufficient_scope());
    }

    #[test]
    fn token_values_and_bws_around_equals() {
        let cs = parse_www_authenticate("Bearer error = invalid_request ,realm=mcp");
        assert_eq!(
            params(&cs[0]),
            [("error", "invalid_request"), ("realm", "mcp")]
        );
    }

    #[test]
    fn quoted_string_escapes() {
        let cs = parse_www_authenticate(r#"Bearer error_description="say \"hi\", then \\ leave""#);
        assert_eq!(
            cs[0].param("error_description"),
            Some(r#"say "hi", then \ leave"#)
        );
    }

    #[test]
    fn several_challenges_in_one_field() {
        // RFC 9110 §11.6.1's example.
        let cs = parse_www_authenticate(
            r#"Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple""#,
        );
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0].scheme, "Newauth");
        assert_eq!(
            params(&cs[0]),
            [
                ("realm", "apps"),
                ("type", "1"),
                ("title", r#"Login to "apps""#)
            ]
        );
        assert_eq!(cs[1].scheme, "Basic");
        assert_eq!(params(&cs[1]), [("realm", "simple")]);
    }

    #[test]
    fn bearer_after_another_scheme_and_token68() {
        let cs = parse_www_authenticate(r#"Negotiate abc+/==, Bearer scope="x""#);
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0].token68.as_deref(), Some("abc+/=="));
        let b = BearerChallenge::from_header_values([r#"Negotiate abc+/==, Bearer scope="x""#])
            .unwrap();
        assert_eq!(b.scope(), Some("x"));
    }

    #[test]
    fn bearer_found_across_several_fields() {
        let b = BearerChallenge::from_header_values([
            r#"Basic realm="x""#,
            r#"Bearer resource_metadata="http://h/prm""#,
        ])
        .unwrap();
        assert_eq!(b.resource_metadata.as_deref(), Some("http://h/prm"));
    }

    #[test]
    fn bare_scheme_and_empty_list_elements() {
        let cs = parse_www_authenticate(" , Bearer ,, , ");
        assert_eq!(cs.len(), 1);
        assert!(cs[0].params.is_empty());
        let cs = parse_www_authenticate(r#"Bearer realm="a",, , scope="b""#);
        assert_eq!(params(&cs[0]), [("realm", "a"), ("scope", "b")]);
    }

    #[test]
    fn first_of_repeated_params_wins() {
        let b = BearerChallenge::from_header_values([r#"Bearer scope="a", scope="evil""#]).unwrap();
        assert_eq!(b.scope(), Some("a"));
    }

    #[test]
    fn malformed_input_never_panics_and_keeps_what_it_can() {
        let junk = [
            "",
            ",",
            "=",
            "\"",
            "Bearer \"",
            "Bearer =",
            "Bearer a=",
            "Bearer a=\"unterminated",
            "Bearer a=\"x\\",
            "Bearer \u{e9}t\u{e9}=1, scope=\"ok\"",
            "Bearer =foo, scope=\"ok\"",
            "Bearer scope=\"ok\" junk junk, realm=r",
            "=== , ;;; Bearer",
            "Bearer ,=,=,=",
            "\u{0}\u{1}Bearer",
            "Bearer realm=\"\u{1F600}\"",
        ];
        for value in junk {
            let _ = parse_www_authenticate(value);
            let _ = BearerChallenge::from_header_values([value]);
        }
        let b = BearerChallenge::from_header_values(["Bearer =foo, scope=\"ok\""]).unwrap();
        assert_eq!(b.scope(), Some("ok"));
        let b = BearerChallenge::from_header_values(["Bearer scope=\"ok\" junk junk, realm=r"])
            .unwrap();
        assert_eq!(b.scope(), Some("ok"));
        let cs = parse_www_authenticate("Bearer a=\"unterminated");
        assert_eq!(cs[0].param("a"), Some("unterminated"));
        let b = BearerChallenge::from_header_values(["Bearer realm=\"\u{1F600}\""]).unwrap();
        assert_eq!(b.scope(), None);
    }

    #[test]
    fn a_stray_parameter_is_not_a_challenge() {
        let cs = parse_www_authenticate(r#"realm="x", Bearer scope="s""#);
        assert_eq!(cs.len(), 1);
        assert_eq!(cs[0].scheme, "Bearer");
    }

    #[test]
    fn no_bearer_challenge() {
        assert_eq!(
            BearerChallenge::from_header_values([r#"Basic realm="x""#]),
            None
        );
        assert_eq!(
            BearerChallenge::from_header_values(Vec::<&str>::new()),
            None
        );
        // "Bearerx" is another scheme.
        assert_eq!(
            BearerChallenge::from_header_values(["Bearerx scope=a"]),
            None
        );
    }

    #[test]
    fn blank_scope_counts_as_no_scope() {
        let b = BearerChallenge::from_header_values([r#"Bearer scope="  ""#]).unwrap();
        assert_eq!(b.scope(), None);
    }

    #[test]
    fn the_challenge_our_own_server_sends_round_trips() {
        let header = crate::auth::bearer_auth::Challenge {
            resource_metadata: Some(
                "http://localhost:9000/.well-known/oauth-protected-resource/mcp".into(),
            ),
            scope: Some("mcp:read mcp:tools".into()),
        }
        .header(&crate::auth::bearer_auth::AuthError::Missing);
        let b = BearerChallenge::from_header_values([header.as_str()]).unwrap();
        assert_eq!(b.scope(), Some("mcp:read mcp:tools"));
        assert_eq!(
            b.resource_metadata.as_deref(),
            Some("http://localhost:9000/.well-known/oauth-protected-resource/mcp")
        );
    }
}
