//! The import rules of docs/architecture.md hold in the source: every module
//! under `src/` names (`crate::X`) only the modules its row of the table
//! "What each module may import" lists, and the core layers have no cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The table of docs/architecture.md: module → modules it may import.
fn allowed() -> BTreeMap<String, BTreeSet<String>> {
    let doc = std::fs::read_to_string(root().join("docs/architecture.md")).expect("docs/architecture.md");
    let after = doc.split("### What each module may import").nth(1).expect("the import table section");
    let section = after.split("\n## ").next().unwrap_or(after);
    let mut out = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let [module, imports] = cells[..] else { continue };
        if module == "module" || module.starts_with("---") {
            continue;
        }
        let set = imports.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
        out.insert(module.to_string(), set);
    }
    assert!(out.len() >= 10, "the import table looks empty: {out:?}");
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Source without comments and without `#[cfg(test)]` modules (tests may
/// reach across layers to set things up).
fn code_of(src: &str) -> String {
    let before_tests = src.split("#[cfg(test)]").next().unwrap_or("");
    before_tests.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// Top-level module of a file under src/ (`src/domain/access.rs` → domain).
fn module_of(src_dir: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src_dir).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    Some(first.trim_end_matches(".rs").to_string())
}

/// module → modules it names, from the source.
fn actual() -> BTreeMap<String, BTreeSet<String>> {
    let src_dir = root().join("src");
    let mut files = Vec::new();
    rust_files(&src_dir, &mut files);
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(&src_dir, &file) else { continue };
        // The binary (main.rs, cli/) uses the library through `hearth::`.
        if ["main", "lib", "cli", "web"].contains(&module.as_str()) || file.ends_with("fuzz_tests.rs") {
            continue;
        }
        if file.file_name().is_some_and(|n| n == "tests.rs" || n.to_string_lossy().ends_with("_tests.rs")) {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&file).expect("read source"));
        let entry = out.entry(module.clone()).or_default();
        for (i, _) in code.match_indices("crate::") {
            let name: String = code[i + 7..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !name.is_empty() && name != module {
                entry.insert(name);
            }
        }
    }
    out
}

#[test]
fn every_module_imports_only_what_the_architecture_allows() {
    let allowed = allowed();
    let actual = actual();
    let mut wrong = Vec::new();
    for (module, uses) in &actual {
        let Some(ok) = allowed.get(module) else {
            wrong.push(format!("{module} has no row in docs/architecture.md's import table"));
            continue;
        };
        for u in uses.iter().filter(|u| !ok.contains(*u)) {
            wrong.push(format!("{module} imports {u}"));
        }
    }
    assert!(wrong.is_empty(), "imports docs/architecture.md does not allow:\n{}", wrong.join("\n"));
}

#[test]
fn the_core_layers_have_no_cycle() {
    let layers = ["model", "protocol", "store", "errors", "domain", "actors", "http"];
    let actual = actual();
    let edges = |m: &str| -> Vec<String> {
        actual.get(m).map(|s| s.iter().filter(|x| layers.contains(&x.as_str())).cloned().collect()).unwrap_or_default()
    };
    for start in layers {
        // Depth-first search for a path from `start` back to itself.
        let mut stack: Vec<(String, Vec<String>)> = edges(start).into_iter().map(|n| (n.clone(), vec![n])).collect();
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            assert!(node != start, "import cycle: {start} -> {}", path.join(" -> "));
            if seen.insert(node.clone()) {
                for next in edges(&node) {
                    let mut p = path.clone();
                    p.push(next.clone());
                    stack.push((next, p));
                }
            }
        }
    }
}

#[test]
fn the_checks_see_real_imports() {
    // Guards the parser: a known edge is found and comments are skipped.
    let actual = actual();
    assert!(actual.get("domain").is_some_and(|s| s.contains("store")), "{actual:?}");
    assert!(!code_of("let x = 1; // crate::http").contains("crate::http"));
    assert!(!code_of("use crate::a;\n#[cfg(test)]\nmod tests { use crate::http; }").contains("crate::http"));
}
