//! A DPoP proof (RFC 9449) for the test scripts: signs with the P-256 key kept in KEY_FILE
//! (PKCS#8 DER, created 0600 when missing) and prints the proof JWT on stdout.
//!
//! ```text
//! cargo run --example dpop_proof -- KEY_FILE METHOD URL [--token TOKEN] [--iat-offset SECONDS] [--jkt]
//! ```
//! `--jkt` prints the key's RFC 7638 thumbprint instead. Test use only.
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use mcp_auth_steps::auth::dpop::ProofKey;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage =
        "usage: dpop_proof KEY_FILE METHOD URL [--token TOKEN] [--iat-offset SECONDS] [--jkt]";
    let (Some(path), method, url) = (args.first(), args.get(1), args.get(2)) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let key = match std::fs::read(path) {
        Ok(der) => ProofKey::from_pkcs8(&der).unwrap_or_else(|e| {
            eprintln!("dpop_proof: {path}: {e}");
            std::process::exit(1)
        }),
        Err(_) => {
            let key = ProofKey::generate();
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .unwrap_or_else(|e| {
                    eprintln!("dpop_proof: {path}: {e}");
                    std::process::exit(1)
                });
            file.write_all(key.pkcs8()).expect("key written");
            key
        }
    };
    if args.iter().any(|a| a == "--jkt") {
        println!("{}", key.thumbprint());
        return;
    }
    let (Some(method), Some(url)) = (method, url) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let token = flag("--token");
    let offset: i64 = flag("--iat-offset")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64;
    println!(
        "{}",
        key.proof(method, url, token.as_deref(), None, now + offset)
    );
}
