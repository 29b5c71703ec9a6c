//! Mints many demo tokens at once, one per line on stdout (for `scripts/bench.sh`'s
//! "distinct token per request" mode and `scripts/soak_step8.sh`). Same library call as
//! `generate-token` ([`token::mint`]), spread over the machine's cores.
//!
//! **Demo only**: signed with the demo key in `keys/`.
//!
//! ```text
//! cargo run --release --example mint_tokens -- --count 20000 > /tmp/tokens.txt
//! cargo run --release --example mint_tokens -- --count 1 --username bob --scopes mcp:read,mcp:prompts
//! ```
use std::io::Write;
use std::path::PathBuf;

use clap::Parser;
use mcp_auth_steps::auth::keys;
use mcp_auth_steps::auth::token::{self, TokenSpec};

#[derive(Parser, Debug)]
#[command(about = "Mint N demo RS256 tokens, one per line (each with its own jti)")]
struct Args {
    /// How many tokens.
    #[arg(long, default_value_t = 1)]
    count: usize,
    /// preferred_username.
    #[arg(long, default_value = "alice")]
    username: String,
    /// Scopes, comma-separated ("" for none).
    #[arg(long, default_value = "mcp:read,mcp:tools")]
    scopes: String,
    /// Roles, comma-separated.
    #[arg(long, default_value = "user")]
    roles: String,
    /// Lifetime: 30s, 15m, 1h, 2d; negative for already expired tokens.
    #[arg(long, default_value = "1h", allow_hyphen_values = true)]
    expires: String,
    /// iss.
    #[arg(long, default_value = "http://localhost:9000")]
    issuer: String,
    /// aud.
    #[arg(long, default_value = "http://localhost:9000/mcp")]
    audience: String,
    /// The private key (PKCS#8 PEM).
    #[arg(long, default_value = keys::DEFAULT_PRIVATE_KEY)]
    key: PathBuf,
}

fn list(raw: &str) -> Vec<String> {
    raw.split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    keys::install_crypto_provider();
    let key = keys::load_private_key(&args.key)?;
    let spec = TokenSpec {
        username: args.username.clone(),
        scopes: list(&args.scopes),
        roles: list(&args.roles),
        expires_in: token::parse_duration(&args.expires).map_err(anyhow::Error::msg)?,
        not_before: 0,
        issuer: args.issuer.clone(),
        audience: args.audience.clone(),
    };
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(args.count.max(1));
    let per_thread = args.count.div_ceil(threads);
    let chunks: Vec<Vec<String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let n = per_thread.min(args.count.saturating_sub(t * per_thread));
                let (key, spec) = (&key, &spec);
                scope.spawn(move || -> Result<Vec<String>, String> {
                    (0..n)
                        .map(|_| token::mint(key, spec).map(|(t, _)| t))
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a minting thread panicked"))
            .collect::<Result<_, _>>()
    })
    .map_err(anyhow::Error::msg)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for token in chunks.iter().flatten() {
        writeln!(out, "{token}")?;
    }
    out.flush()?;
    eprintln!(
        "minted {} tokens for {} (demo key, iss {}, aud {})",
        args.count, args.username, args.issuer, args.audience
    );
    Ok(())
}
