//! `generate-token` — mint demo access tokens for steps 5–8, offline, with the demo key.
//!
//! **Demo only**: the key in `keys/` is public; tokens it signs prove nothing outside this tutorial.
//!
//! ```text
//! TOKEN=$(cargo run -q --bin generate-token -- --username alice)        # stdout = the token only
//! cargo run -q --bin generate-token -- --username bob --scopes mcp:read,mcp:prompts --expires 15m
//! cargo run -q --bin generate-token -- --username x --expires -1h        # already expired (tests)
//! eval "$(cargo run -q --bin generate-token -- --demo)"                  # ALICE_TOKEN, BOB_TOKEN, ADMIN_TOKEN, GUEST_TOKEN
//! cargo run -q --bin generate-token -- --decode "$TOKEN"                 # header + claims, NOT verified
//! cargo run -q --bin generate-token -- --generate-keys [--force]         # a new demo pair in keys/
//! ```
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mcp_auth_steps::auth::keys::{self, SigningKey};
use mcp_auth_steps::auth::token::{self, Claims, DEMO_USERS, TokenSpec};
use serde_json::json;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Mint demo RS256 access tokens (stdout: the token only; summary on stderr)"
)]
struct Args {
    /// preferred_username (and the seed of a stable sub).
    #[arg(long, required_unless_present_any = ["demo", "decode", "generate_keys"])]
    username: Option<String>,
    /// Scopes, comma- or space-separated ("" for none).
    #[arg(long, default_value = "mcp:read,mcp:tools")]
    scopes: String,
    /// Roles, comma-separated (add "admin" for the admin role).
    #[arg(long, default_value = "user")]
    roles: String,
    /// Lifetime: 30s, 15m, 1h, 2d; negative for an already expired token.
    #[arg(long, default_value = "1h", allow_hyphen_values = true)]
    expires: String,
    /// nbf offset from now, e.g. 10m for a token not valid yet.
    #[arg(long = "not-before", default_value = "0s", allow_hyphen_values = true)]
    not_before: String,
    /// iss.
    #[arg(long, default_value = "http://localhost:9000")]
    issuer: String,
    /// aud (the MCP endpoint: the canonical resource URI).
    #[arg(long, default_value = "http://localhost:9000/mcp")]
    audience: String,
    /// The private key (PKCS#8 PEM).
    #[arg(long, default_value = keys::DEFAULT_PRIVATE_KEY)]
    key: PathBuf,
    /// Where --generate-keys writes the public key (SPKI PEM).
    #[arg(long = "public-key", default_value = keys::DEFAULT_PUBLIC_KEY)]
    public_key: PathBuf,
    /// Print {token, claims} as JSON instead of the bare token.
    #[arg(long)]
    json: bool,
    /// Mint alice, bob, admin and guest (NAME_TOKEN=... lines, or JSON with --json).
    #[arg(long, conflicts_with_all = ["username", "decode", "generate_keys"])]
    demo: bool,
    /// Print a token's header and claims WITHOUT verifying it (a learning aid).
    #[arg(long, value_name = "TOKEN", conflicts_with_all = ["username", "generate_keys"])]
    decode: Option<String>,
    /// Write a new RSA 2048 demo key pair to --key and --public-key.
    #[arg(long = "generate-keys", conflicts_with = "username")]
    generate_keys: bool,
    /// With --generate-keys: replace existing files.
    #[arg(long, requires = "generate_keys")]
    force: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    keys::install_crypto_provider();
    let result = if let Some(token) = &args.decode {
        decode(token)
    } else if args.generate_keys {
        generate_keys(&args)
    } else if args.demo {
        demo(&args)
    } else {
        single(&args)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("generate-token: {message}");
            ExitCode::FAILURE
        }
    }
}

fn list(raw: &str) -> Vec<String> {
    raw.split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn spec(
    args: &Args,
    username: &str,
    scopes: Vec<String>,
    roles: Vec<String>,
) -> Result<TokenSpec, String> {
    Ok(TokenSpec {
        username: username.to_string(),
        scopes,
        roles,
        expires_in: token::parse_duration(&args.expires).map_err(|e| format!("--expires: {e}"))?,
        not_before: token::parse_duration(&args.not_before)
            .map_err(|e| format!("--not-before: {e}"))?,
        issuer: args.issuer.clone(),
        audience: args.audience.clone(),
    })
}

fn load_key(args: &Args) -> Result<SigningKey, String> {
    keys::load_private_key(&args.key).map_err(|e| e.to_string())
}

/// The stderr summary: never the token itself.
fn summary(claims: &Claims, kid: &str) {
    let now = token::now();
    eprintln!(
        "token for {} (sub {}): scope \"{}\", roles [{}]\n  iss {}  aud {}\n  iat {}  nbf {}  exp {} ({:+}s from now)  kid {}…",
        claims.preferred_username,
        claims.sub,
        claims.scope,
        claims.roles.join(", "),
        claims.iss,
        claims.aud,
        token::utc_string(claims.iat),
        token::utc_string(claims.nbf),
        token::utc_string(claims.exp),
        claims.exp - now,
        &kid[..8.min(kid.len())],
    );
}

fn single(args: &Args) -> Result<(), String> {
    let key = load_key(args)?;
    let username = args.username.as_deref().ok_or("--username is required")?;
    let spec = spec(args, username, list(&args.scopes), list(&args.roles))?;
    let (token, claims) = token::mint(&key, &spec)?;
    summary(&claims, &key.kid);
    if args.json {
        println!("{}", json!({"token": token, "claims": claims}));
    } else {
        println!("{token}");
    }
    Ok(())
}

fn demo(args: &Args) -> Result<(), String> {
    let key = load_key(args)?;
    let mut all = serde_json::Map::new();
    for (name, _, _) in DEMO_USERS {
        let demo =
            TokenSpec::demo(name, &args.issuer, &args.audience).ok_or("unknown demo user")?;
        let spec = spec(args, name, demo.scopes, demo.roles)?;
        let (token, claims) = token::mint(&key, &spec)?;
        summary(&claims, &key.kid);
        if args.json {
            all.insert(name.to_string(), json!({"token": token, "claims": claims}));
        } else {
            println!("{}_TOKEN={token}", name.to_uppercase());
        }
    }
    if args.json {
        println!("{}", serde_json::Value::Object(all));
    }
    Ok(())
}

fn decode(token: &str) -> Result<(), String> {
    let (header, claims) = token::decode_unverified(token)?;
    eprintln!("NOT VERIFIED: this only decodes; the signature and claims were not checked.");
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({"header": header, "claims": claims}))
            .unwrap_or_default()
    );
    Ok(())
}

fn generate_keys(args: &Args) -> Result<(), String> {
    for path in [&args.key, &args.public_key] {
        if path.exists() && !args.force {
            return Err(format!(
                "{} exists; pass --force to replace it",
                path.display()
            ));
        }
    }
    eprintln!(
        "generating an RSA 2048 DEMO key pair (rsa crate; see RUSTSEC-2023-0071 in docs/step05) …"
    );
    let key = keys::generate()?;
    keys::write_pair(&key, &args.key, &args.public_key, args.force)?;
    let kid = keys::signing_key(&key)?.kid;
    eprintln!(
        "wrote {} (0600) and {}; kid {kid}. Restart servers to pick up the new key.",
        args.key.display(),
        args.public_key.display()
    );
    Ok(())
}
