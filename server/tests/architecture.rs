//! The layering, read from the sources: every arrow points one way.
//!
//! - The service crate knows no protocol: no `axum`, `reqwest`, `clap` or `prost` service
//!   code in its manifest or sources.
//! - Within the binary and the service, module references (`crate::a::b`, `super::x`)
//!   form no cycle once a module's references to its own ancestors and descendants are
//!   set aside (a `mod.rs` declares its children; a child may use its parent's types).
//! - No front door imports another's: the REST modules (`http::query`, `http::import`)
//!   never name Pyroscope's (`http::pyroscope`, `http::push`) and the other way round; the
//!   HTTP modules never name the CLI; the CLI names HTTP only where `serve` wires it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (such as `http::query`) of each source file below `src`.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let rel = p.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            out.insert(parts.join("::"), p);
        }
    }
    out
}

/// The modules `text` (the source of module `me`) refers to, among `known`.
fn references(me: &str, text: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let me_parts: Vec<&str> = if me.is_empty() {
        vec![]
    } else {
        me.split("::").collect()
    };
    // Code only: comments and doc comments are prose.
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let bytes = code.as_bytes();
    for (prefix, base) in [("crate::", 0usize), ("super::", 1)] {
        let mut from = 0;
        while let Some(i) = code[from..].find(prefix) {
            let start = from + i;
            from = start + prefix.len();
            if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
                continue;
            }
            let path: String = code[from..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut parts: Vec<&str> = if base == 0 {
                vec![]
            } else {
                // `super::` in a file module is relative to its parent.
                me_parts[..me_parts.len().saturating_sub(1)].to_vec()
            };
            parts.extend(path.split("::").filter(|s| !s.is_empty()));
            // The longest known module prefix of the path.
            while !parts.is_empty() {
                let m = parts.join("::");
                if known.contains(&m) {
                    out.insert(m);
                    break;
                }
                parts.pop();
            }
        }
    }
    out
}

fn related(a: &str, b: &str) -> bool {
    let under = |x: &str, y: &str| y.is_empty() || x == y || x.starts_with(&format!("{y}::"));
    under(a, b) || under(b, a)
}

/// Every module's references, ancestors and descendants set aside.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mods = modules(src);
    let known: BTreeSet<String> = mods.keys().cloned().collect();
    mods.iter()
        .map(|(m, p)| {
            let text = std::fs::read_to_string(p).unwrap();
            let refs = references(m, &text, &known)
                .into_iter()
                .filter(|r| !related(m, r))
                .collect();
            (m.clone(), refs)
        })
        .collect()
}

/// A cycle in `g`, if there is one.
fn cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let at = path.iter().position(|p| p == n).unwrap_or(0);
                let mut c = path[at..].to_vec();
                c.push(n.to_string());
                return Some(c);
            }
            _ => {}
        }
        state.insert(n.to_string(), 1);
        path.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, g, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if let Some(c) = visit(n, g, &mut state, &mut vec![]) {
            return Some(c);
        }
    }
    None
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn module_references_form_no_cycle() {
    for krate in ["server/src", "service/src"] {
        let g = graph(&root().join(krate));
        assert!(g.len() > 5, "{krate}: modules not found");
        assert_eq!(cycle(&g), None, "{krate}: a cycle of module references");
    }
}

#[test]
fn no_front_door_imports_another() {
    let g = graph(&root().join("server/src"));
    let refers = |from: &str, to: &str| {
        g.iter()
            .filter(|(m, _)| *m == from || m.starts_with(&format!("{from}::")))
            .any(|(_, refs)| {
                refs.iter()
                    .any(|r| r == to || r.starts_with(&format!("{to}::")))
            })
    };
    for rest in ["http::query", "http::import"] {
        for pyroscope in ["http::pyroscope", "http::push"] {
            assert!(!refers(rest, pyroscope), "{rest} uses {pyroscope}");
            assert!(!refers(pyroscope, rest), "{pyroscope} uses {rest}");
        }
    }
    assert!(!refers("http", "cli"), "the HTTP modules use the CLI");
    let wiring = ["cli::serve", "cli::server_args"];
    for (m, refs) in &g {
        if m.starts_with("cli") && !wiring.contains(&m.as_str()) {
            assert!(
                !refs.iter().any(|r| r.starts_with("http")),
                "{m} uses the HTTP modules: {refs:?}"
            );
        }
    }
}

#[test]
fn the_service_knows_no_protocol() {
    let manifest = std::fs::read_to_string(root().join("service/Cargo.toml")).unwrap();
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap();
    for protocol in ["axum", "reqwest", "clap", "multer", "hyper"] {
        assert!(
            !deps.lines().any(|l| l.trim_start().starts_with(protocol)),
            "service depends on {protocol}"
        );
    }
    for (m, p) in modules(&root().join("service/src")) {
        let text = std::fs::read_to_string(p).unwrap();
        for word in ["axum::", "reqwest::", "clap::", "StatusCode"] {
            assert!(!text.contains(word), "service module {m} names {word}");
        }
    }
}

#[test]
fn the_checker_finds_a_cycle_it_is_shown() {
    let known: BTreeSet<String> = ["a", "b", "a::b", "a::x"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    // In `a::x`, `super::b` is `a::b`; `crate::b::deep` is `b`; comments do not count.
    assert_eq!(
        references(
            "a::x",
            "use super::b; use crate::b::deep; // crate::q",
            &known
        ),
        BTreeSet::from(["a::b".to_string(), "b".to_string()])
    );
    let g: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_string(), BTreeSet::from(["b".to_string()])),
        ("b".to_string(), BTreeSet::from(["a".to_string()])),
    ]
    .into();
    assert!(cycle(&g).is_some());
}
