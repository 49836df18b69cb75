//! Every template of the real charts in `../shared/corpus/helm` parses with Helm's function
//! map: parsing rejects a function that is not registered (`function "x" not defined`), so this
//! shows that no function those charts call is missing.

use capstan_gotemplate::{Funcs, Signature, Templates, Type, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/helm")
}

/// Helm's function map, with `include` and `tpl` (which the renderer provides) as stand-ins
/// of the right signature.
fn helm_funcs() -> Funcs {
    let mut funcs = Funcs::new();
    capstan_gotemplate::sprig::register(&mut funcs);
    for name in ["include", "tpl"] {
        funcs.register(
            name,
            Signature::new([Type::String, Type::Interface]),
            |_, _| Ok(Value::string("")),
        );
    }
    funcs
}

fn template_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            template_files(&path, out);
        } else if path.components().any(|c| c.as_os_str() == "templates")
            && path
                .extension()
                .is_some_and(|e| e == "yaml" || e == "tpl" || e == "yml" || e == "txt")
        {
            out.push(path);
        }
    }
}

#[test]
#[ignore = "needs ../shared/corpus/helm"]
fn corpus_templates_parse_with_helms_functions() {
    let root = corpus();
    let mut files = Vec::new();
    template_files(&root, &mut files);
    assert!(
        files.len() > 50,
        "found only {} template files under {}",
        files.len(),
        root.display()
    );
    let funcs = Arc::new(helm_funcs());
    let mut failures = Vec::new();
    for file in &files {
        let text =
            std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut set = Templates::new(funcs.clone());
        if let Err(error) = set.parse(&file.display().to_string(), &text) {
            failures.push(error.to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} templates do not parse:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
