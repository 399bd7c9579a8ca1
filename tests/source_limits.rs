//! The code keeps the shape that lets a newcomer find things: no source
//! file over 600 lines, no function over 80, no `impl` block over 400, and a
//! `//!` paragraph at the top of every module saying what it owns. Unit
//! tests (`tests.rs` files and `#[cfg(test)]` modules) are not counted.
//!
//! Measured on the parsed source (syn), not by counting braces.

use std::path::{Path, PathBuf};

use syn::spanned::Spanned;
use syn::visit::Visit;

const MAX_FILE_LINES: usize = 600;
const MAX_FN_LINES: usize = 80;
const MAX_IMPL_LINES: usize = 400;

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

fn is_test_module(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

fn lines(span: proc_macro2::Span) -> usize {
    span.end().line - span.start().line + 1
}

/// Walks one file, skipping test modules, and notes what is too long.
struct Measure<'a> {
    file: &'a str,
    test_lines: usize,
    problems: Vec<String>,
}

impl Measure<'_> {
    fn function(&mut self, name: &syn::Ident, sig: &syn::Signature, body: &syn::Block) {
        let n = body.brace_token.span.close().end().line - sig.span().start().line + 1;
        if n > MAX_FN_LINES {
            self.problems.push(format!(
                "{}: fn {name} is {n} lines (at most {MAX_FN_LINES})",
                self.file
            ));
        }
    }
}

impl<'ast> Visit<'ast> for Measure<'_> {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if is_test_module(&m.attrs) {
            self.test_lines += lines(m.span());
            return;
        }
        syn::visit::visit_item_mod(self, m);
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        if is_test_module(&f.attrs) {
            return;
        }
        self.function(&f.sig.ident, &f.sig, &f.block);
        syn::visit::visit_item_fn(self, f);
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.function(&f.sig.ident, &f.sig, &f.block);
        syn::visit::visit_impl_item_fn(self, f);
    }

    fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
        if is_test_module(&i.attrs) {
            return;
        }
        let n = lines(i.span());
        if n > MAX_IMPL_LINES {
            self.problems.push(format!(
                "{}: an impl block of {n} lines (at most {MAX_IMPL_LINES})",
                self.file
            ));
        }
        syn::visit::visit_item_impl(self, i);
    }
}

#[test]
fn every_source_file_function_and_impl_stays_small_and_says_what_it_owns() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    files.sort();
    let mut problems = Vec::new();
    for path in &files {
        let name = path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string();
        if path.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(path).expect("readable");
        if !text.starts_with("//!") {
            problems.push(format!("{name}: does not start with a `//!` paragraph"));
        }
        let file = match syn::parse_file(&text) {
            Ok(f) => f,
            Err(e) => panic!("{name} does not parse: {e}"),
        };
        let mut m = Measure {
            file: &name,
            test_lines: 0,
            problems: Vec::new(),
        };
        m.visit_file(&file);
        let counted = text.lines().count() - m.test_lines;
        if counted > MAX_FILE_LINES {
            problems.push(format!(
                "{name}: {counted} lines outside tests (at most {MAX_FILE_LINES})"
            ));
        }
        problems.extend(m.problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
