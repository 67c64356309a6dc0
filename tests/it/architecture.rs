//! The map checked against the code: every `crate::…` path in a module's
//! files (outside its `#[cfg(test)]` part) must name a module ARCHITECTURE.md's
//! "may use" column allows for it, and every module of `src/` must have a
//! row. One crate, one table: a workspace would let the compiler check the
//! arrows, but it would split the one error-enum-per-layer library into a
//! dozen crates and their manifests for the same result.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Module → the modules it may use, from the "Folders" table.
fn allowed() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md")).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("| `src/")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | folder | what it holds | may use |
        let (folder, may_use) = (cells[1], cells[cells.len() - 2]);
        let module = folder
            .trim_matches('`')
            .trim_start_matches("src/")
            .trim_end_matches('/')
            .trim_end_matches(".rs")
            .to_string();
        if module.starts_with("bin") {
            continue;
        }
        let uses: BTreeSet<String> = may_use
            .split('`')
            .skip(1)
            .step_by(2)
            .map(|u| u.split("::").next().unwrap_or(u).to_string())
            .collect();
        out.insert(module, uses);
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The crate modules a file's non-test code names (`crate::x`, and each
/// `x` of `crate::{x, y}`), comments left out.
fn used_modules(text: &str) -> BTreeSet<String> {
    let code = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    };
    let code: String = code
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.insert(name);
        }
    }
    out
}

/// Every arrow `(module, file, used module)` the table does not allow.
fn violations(
    src: &Path,
    allowed: &BTreeMap<String, BTreeSet<String>>,
) -> (Vec<String>, Vec<String>) {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let (mut bad, mut unmapped) = (Vec::new(), BTreeSet::new());
    for f in files {
        let rel = f.strip_prefix(src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "bin" || module == "lib" {
            continue;
        }
        let Some(may) = allowed.get(&module) else {
            unmapped.insert(module);
            continue;
        };
        for used in used_modules(&std::fs::read_to_string(&f).unwrap()) {
            if used != module && !may.contains(&used) {
                bad.push(format!("{} uses {used}", rel.display()));
            }
        }
    }
    (bad, unmapped.into_iter().collect())
}

#[test]
fn every_import_follows_the_map() {
    let allowed = allowed();
    assert!(allowed.len() >= 15, "table not found: {allowed:?}");
    let (bad, unmapped) = violations(&Path::new(ROOT).join("src"), &allowed);
    assert!(
        unmapped.is_empty(),
        "modules without a row in ARCHITECTURE.md: {unmapped:?}"
    );
    assert!(
        bad.is_empty(),
        "arrows ARCHITECTURE.md's \"may use\" column does not allow:\n{}",
        bad.join("\n")
    );
}

/// The checker itself: a forbidden arrow in a scratch tree is reported,
/// an allowed one and a test module's import are not.
#[test]
fn the_checker_sees_a_forbidden_import() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path();
    std::fs::create_dir_all(src.join("pki")).unwrap();
    std::fs::write(
        src.join("pki/mod.rs"),
        "use crate::metrics::Phase;\n#[cfg(test)]\nmod tests { use crate::engine::Control; }\n",
    )
    .unwrap();
    std::fs::write(src.join("trust.rs"), "use crate::{metrics, pki::Role};\n").unwrap();
    let mut allowed = BTreeMap::new();
    allowed.insert("pki".to_string(), BTreeSet::new());
    allowed.insert(
        "trust".to_string(),
        ["metrics", "pki"].into_iter().map(String::from).collect(),
    );
    let (bad, unmapped) = violations(src, &allowed);
    assert_eq!(bad, vec!["pki/mod.rs uses metrics".to_string()]);
    assert!(unmapped.is_empty());
}
