//! The source tree is the blog series: `src/http` and `src/mcp` (part 1), `src/auth` (part 2),
//! `src/keycloak` (part 3), `src/client` (part 4). A module may use its own folder and the
//! folders of earlier parts, never a later one, and no two modules of one folder use each other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The folders in reading order; `http` and `mcp` are both part 1, `http` first (step 1).
const PARTS: [&str; 5] = ["http", "mcp", "auth", "keycloak", "client"];

/// `(folder, module)` → the set of `(folder, module)` it names as `crate::folder::module`.
fn uses() -> BTreeMap<(String, String), BTreeSet<(String, String)>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut uses = BTreeMap::new();
    for folder in PARTS {
        for entry in std::fs::read_dir(src.join(folder)).unwrap() {
            let path = entry.unwrap().path();
            let module = path.file_stem().unwrap().to_string_lossy().to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            let mut named = BTreeSet::new();
            for (i, _) in text.match_indices("crate::") {
                let rest = &text[i + "crate::".len()..];
                let mut parts = rest.split("::");
                let (Some(f), Some(m)) = (parts.next(), parts.next()) else {
                    continue;
                };
                let m: String = m
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if PARTS.contains(&f) && !m.is_empty() && (f, m.as_str()) != (folder, &module) {
                    named.insert((f.to_string(), m));
                }
            }
            uses.insert((folder.to_string(), module), named);
        }
    }
    uses
}

#[test]
fn src_holds_only_lib_rs_and_the_part_folders() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut top: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    top.sort();
    assert_eq!(
        top,
        ["auth", "bin", "client", "http", "keycloak", "lib.rs", "mcp"]
    );
}

#[test]
fn no_module_uses_a_later_part() {
    let rank = |f: &str| PARTS.iter().position(|p| *p == f).unwrap();
    let mut wrong = Vec::new();
    for ((folder, module), named) in uses() {
        for (f, m) in named {
            if rank(&f) > rank(&folder) {
                wrong.push(format!("{folder}::{module} uses {f}::{m}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn no_two_modules_use_each_other() {
    let uses = uses();
    let mut cycles = Vec::new();
    for (a, named) in &uses {
        for b in named {
            if a < b && uses.get(b).is_some_and(|n| n.contains(a)) {
                cycles.push(format!("{}::{} <-> {}::{}", a.0, a.1, b.0, b.1));
            }
        }
    }
    assert!(cycles.is_empty(), "{cycles:#?}");
}
