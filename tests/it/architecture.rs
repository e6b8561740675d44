//! The boundaries ARCHITECTURE.md draws, checked on the source: which file may use which.
//!
//! Every `crate::…` and `super::…` path in a file's non-test code (before its first
//! `#[cfg(test)]`; `tests.rs` files are test code) is an edge to the module file it names. A
//! module declaring and re-exporting its own children is structure, not use, so edges from a
//! module to its own descendants are left out. Then:
//! - no cycle among files (a file never uses one that uses it back, however indirectly);
//! - the layers hold: nothing uses `app` (only `main.rs`), the contract (`report`, `exit`) uses
//!   nothing of the engine, the spec or the app, the verdict nothing of the spec, the cloud
//!   client nothing above it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::support::repo_root;

type Module = Vec<String>;

/// Every module file under `src/`, by module path (`wait::driver` → `src/wait/driver.rs`).
fn modules() -> BTreeMap<Module, String> {
    fn walk(dir: &Path, out: &mut BTreeMap<Module, String>, src: &Path) {
        for entry in std::fs::read_dir(dir).expect("src is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(&path, out, src);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path
                    .strip_prefix(src)
                    .expect("under src")
                    .with_extension("");
                let mut parts: Module = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
                    parts.pop();
                }
                if parts == ["main"] {
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("a source file");
                out.insert(parts, text);
            }
        }
    }
    let src = repo_root().join("src");
    let mut out = BTreeMap::new();
    walk(&src, &mut out, &src);
    out
}

/// The code of a file that is not a test.
fn non_test(name: &Module, text: &str) -> String {
    if name.last().is_some_and(|n| n == "tests") {
        return String::new();
    }
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    code.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths (as segments) that `code` names after `crate::` or `super::`, with `{a, b::c}`
/// groups expanded one level; `super` is resolved against the module `name`.
fn paths(name: &Module, code: &str) -> Vec<Module> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = Vec::new();
    for (start, keyword) in code
        .match_indices("crate::")
        .chain(code.match_indices("super::"))
    {
        if start > 0 && code[..start].ends_with(ident) {
            continue;
        }
        let mut base: Module = if keyword == "crate::" {
            Vec::new()
        } else {
            // `super` of module `a::b` (`a/b.rs` or `a/b/mod.rs`) is `a`.
            let mut b = name.clone();
            b.pop();
            b
        };
        let mut rest = &code[start + keyword.len()..];
        loop {
            if let Some(after) = rest.strip_prefix("super::") {
                base.pop();
                rest = after;
                continue;
            }
            if let Some(group) = rest.strip_prefix('{') {
                let group = group.split('}').next().unwrap_or_default();
                for item in group.split(',') {
                    let item = item.split(" as ").next().unwrap_or_default().trim();
                    if item.is_empty() || item == "self" {
                        continue;
                    }
                    let mut p = base.clone();
                    p.extend(item.split("::").map(|s| s.trim().to_owned()));
                    out.push(p);
                }
                break;
            }
            let seg: String = rest.chars().take_while(|c| ident(*c)).collect();
            if seg.is_empty() {
                out.push(base.clone());
                break;
            }
            base.push(seg.clone());
            rest = &rest[seg.len()..];
            match rest.strip_prefix("::") {
                Some(after) => rest = after,
                None => {
                    out.push(base.clone());
                    break;
                }
            }
        }
    }
    out
}

/// Module → the module files its non-test code uses.
fn graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let modules = modules();
    let resolve = |path: &Module| -> Option<Module> {
        (0..=path.len())
            .rev()
            .map(|k| path[..k].to_vec())
            .find(|m| modules.contains_key(m))
    };
    let mut graph = BTreeMap::new();
    for (name, text) in &modules {
        let code = non_test(name, text);
        let mut uses = BTreeSet::new();
        for path in paths(name, &code) {
            if let Some(target) = resolve(&path) {
                let own_descendant = target.len() > name.len() && target.starts_with(name);
                if &target != name && !own_descendant {
                    uses.insert(target);
                }
            }
        }
        graph.insert(name.clone(), uses);
    }
    graph
}

fn shown(m: &Module) -> String {
    if m.is_empty() {
        "lib".to_owned()
    } else {
        m.join("::")
    }
}

#[test]
fn no_file_uses_one_that_uses_it_back() {
    let graph = graph();
    let mut cycles = Vec::new();
    for start in graph.keys() {
        // A path from `start` back to itself: depth-first over the uses.
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((at, trail)) = stack.pop() {
            for next in graph.get(&at).into_iter().flatten() {
                if next == start {
                    let names: Vec<String> = trail.iter().chain([start]).map(shown).collect();
                    cycles.push(names.join(" -> "));
                } else if seen.insert(next.clone()) {
                    let mut t = trail.clone();
                    t.push(next.clone());
                    stack.push((next.clone(), t));
                }
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_layers_hold() {
    let graph = graph();
    let top = |m: &Module| m.first().cloned().unwrap_or_default();
    // (module prefix, top-level modules it must not use)
    let rules: &[(&str, &[&str])] = &[
        ("report", &["wait", "spec", "app", "progress"]),
        ("exit", &["wait", "spec", "app", "report", "cloud"]),
        ("verdict", &["spec", "wait", "app", "report"]),
        (
            "cloud",
            &["wait", "spec", "app", "report", "verdict", "progress"],
        ),
        ("wait", &["app", "progress"]),
        ("spec", &["app", "wait", "report"]),
        ("sim", &["app", "wait", "spec", "report"]),
    ];
    let mut broken = Vec::new();
    for (module, uses) in &graph {
        for used in uses {
            if top(used) == "app" && top(module) != "app" {
                broken.push(format!(
                    "{} uses the app layer ({})",
                    shown(module),
                    shown(used)
                ));
            }
            for (prefix, banned) in rules {
                if top(module) == *prefix && banned.contains(&top(used).as_str()) {
                    broken.push(format!("{} uses {}", shown(module), shown(used)));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "layer rules broken:\n{}",
        broken.join("\n")
    );
}

/// The checker itself sees edges (a checker that reads nothing would pass any code).
#[test]
fn the_checker_reads_the_uses() {
    let graph = graph();
    let uses = |m: &str| -> BTreeSet<String> {
        graph[&m.split("::").map(str::to_owned).collect::<Module>()]
            .iter()
            .map(shown)
            .collect()
    };
    assert!(
        uses("wait::driver").contains("wait::pacer"),
        "{:?}",
        uses("wait::driver")
    );
    assert!(uses("app::execute").contains("app::discovery"));
    assert!(uses("cloud::client").contains("cloud::iam"));
}
