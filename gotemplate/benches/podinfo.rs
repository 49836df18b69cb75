//! Times parsing and rendering podinfo's templates (from `../shared/corpus/helm/podinfo`).
//!
//! The Sprig and Helm functions podinfo calls are replaced by small stand-ins (`toYaml` prints a
//! rough YAML, `randAlphaNum` is fixed...): the output is not Helm's, but the engine's work
//! (lookups, pipelines, includes, printing, budgets) is what a real render does, which is what
//! this measures. Run: `cargo test --release -p capstan-gotemplate --bench podinfo -- --ignored --nocapture`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use capstan_gotemplate::{
    Budget, FuncError, Funcs, MissingKey, Options, Signature, Templates, Type, Value,
};

fn stand_in_funcs() -> Funcs {
    let mut f = Funcs::new();
    let any = Type::Interface;
    f.register(
        "include",
        Signature::new([Type::String, any.clone()]),
        |ctx, a| {
            Ok(Value::string(ctx.execute_template(
                a[0].as_str().unwrap_or_default(),
                a[1].clone(),
            )?))
        },
    );
    f.register("toYaml", Signature::new([any.clone()]), |ctx, a| {
        let mut out = String::new();
        yaml(&a[0], 0, &mut out);
        let out = out.trim_end().to_string();
        ctx.charge_bytes(out.len())?;
        Ok(Value::string(out))
    });
    f.register(
        "nindent",
        Signature::new([Type::int(), Type::String]),
        |ctx, a| {
            let s = indent(
                a[0].as_i64().unwrap_or(0) as usize,
                a[1].as_str().unwrap_or_default(),
            );
            ctx.charge_bytes(s.len() + 1)?;
            Ok(Value::string(format!("\n{s}")))
        },
    );
    f.register(
        "indent",
        Signature::new([Type::int(), Type::String]),
        |ctx, a| {
            let s = indent(
                a[0].as_i64().unwrap_or(0) as usize,
                a[1].as_str().unwrap_or_default(),
            );
            ctx.charge_bytes(s.len())?;
            Ok(Value::string(s))
        },
    );
    f.register(
        "default",
        Signature::variadic([any.clone()], any.clone()),
        |_, a| {
            let given = a.get(1).cloned().unwrap_or(Value::Nil);
            Ok(if given.is_true() { given } else { a[0].clone() })
        },
    );
    f.register("empty", Signature::new([any.clone()]), |_, a| {
        Ok(Value::Bool(!a[0].is_true()))
    });
    f.register("quote", Signature::variadic([], any.clone()), |_, a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !v.is_nil())
            .map(|v| format!("{:?}", v.to_string()))
            .collect();
        Ok(Value::string(parts.join(" ")))
    });
    f.register(
        "trimSuffix",
        Signature::new([Type::String, Type::String]),
        |_, a| {
            let (suffix, s) = (
                a[0].as_str().unwrap_or_default(),
                a[1].as_str().unwrap_or_default(),
            );
            Ok(Value::string(s.strip_suffix(suffix).unwrap_or(s)))
        },
    );
    f.register(
        "trunc",
        Signature::new([Type::int(), Type::String]),
        |_, a| {
            let n = a[0].as_i64().unwrap_or(0).max(0) as usize;
            Ok(Value::string(
                a[1].as_str()
                    .unwrap_or_default()
                    .chars()
                    .take(n)
                    .collect::<String>(),
            ))
        },
    );
    f.register(
        "contains",
        Signature::new([Type::String, Type::String]),
        |_, a| {
            Ok(Value::Bool(
                a[1].as_str()
                    .unwrap_or_default()
                    .contains(a[0].as_str().unwrap_or_default()),
            ))
        },
    );
    f.register("dict", Signature::variadic([], Type::Interface), |_, a| {
        let mut m = BTreeMap::new();
        for pair in a.chunks(2) {
            m.insert(
                pair[0].to_string(),
                pair.get(1).cloned().unwrap_or(Value::Nil),
            );
        }
        Ok(Value::map(m))
    });
    f.register(
        "kindIs",
        Signature::new([Type::String, Type::Interface]),
        |_, a| {
            Ok(Value::Bool(
                a[1].kind().name() == a[0].as_str().unwrap_or_default(),
            ))
        },
    );
    f.register("sha256sum", Signature::new([Type::String]), |_, a| {
        Ok(Value::string(format!(
            "{:064x}",
            a[0].as_str().unwrap_or_default().len()
        )))
    });
    f.register("lower", Signature::new([Type::String]), |_, a| {
        Ok(Value::string(
            a[0].as_str().unwrap_or_default().to_lowercase(),
        ))
    });
    f.register(
        "replace",
        Signature::new([Type::String, Type::String, Type::String]),
        |_, a| {
            let s = a[2].as_str().unwrap_or_default();
            Ok(Value::string(s.replace(
                a[0].as_str().unwrap_or_default(),
                a[1].as_str().unwrap_or_default(),
            )))
        },
    );
    f.register("randAlphaNum", Signature::new([Type::int()]), |_, a| {
        Ok(Value::string(
            "x".repeat(a[0].as_i64().unwrap_or(0).clamp(0, 64) as usize),
        ))
    });
    f.register("int", Signature::new([any.clone()]), |_, a| {
        Ok(Value::int(
            a[0].as_f64()
                .map(|f| f as i64)
                .or(a[0].as_i64())
                .unwrap_or(0),
        ))
    });
    f.register("fail", Signature::new([Type::String]), |_, a| {
        Err(FuncError::new(a[0].as_str().unwrap_or_default()))
    });
    f
}

fn indent(n: usize, s: &str) -> String {
    let pad = " ".repeat(n);
    s.lines()
        .map(|l| format!("{pad}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn yaml(v: &Value, level: usize, out: &mut String) {
    let pad = "  ".repeat(level);
    match v {
        Value::Map(m) => {
            for (k, v) in m.snapshot() {
                out.push_str(&format!("{pad}{k}:"));
                if matches!(&v, Value::Map(_) | Value::List(_)) {
                    out.push('\n');
                    yaml(&v, level + 1, out);
                } else {
                    out.push_str(&format!(" {v}\n"));
                }
            }
        }
        Value::List(l) => {
            for item in &l.items {
                out.push_str(&format!("{pad}-\n"));
                yaml(item, level + 1, out);
            }
        }
        other => out.push_str(&format!("{pad}{other}\n")),
    }
}

/// Ignored by default because a fresh clone has no `../shared`; CI runs it with `--ignored`, and
/// `cargo test --release -p capstan-gotemplate --bench podinfo -- --ignored --nocapture` prints
/// the figures.
#[test]
#[ignore = "needs ../shared/corpus/helm/podinfo"]
fn podinfo_parses_and_renders() {
    // The shared corpus sits next to the repository; CAPSTAN_SHARED points elsewhere.
    let shared = std::env::var("CAPSTAN_SHARED")
        .unwrap_or_else(|_| format!("{}/../../shared", env!("CARGO_MANIFEST_DIR")));
    let chart = Path::new(&shared).join("corpus/helm/podinfo");
    assert!(
        chart.is_dir(),
        "{} is missing: put the project's shared/ directory beside the repository or set CAPSTAN_SHARED",
        chart.display()
    );
    let mut files = Vec::new();
    collect(&chart.join("templates"), &chart, &mut files);
    files.sort();
    let values: serde_json::Value =
        serde_saphyr::from_slice(&std::fs::read(chart.join("values.yaml")).expect("values"))
            .expect("yaml");
    let top = Value::from_json(&serde_json::json!({
        "Values": values,
        "Release": {"Name": "bench", "Namespace": "default", "Service": "Helm", "Revision": 1, "IsInstall": true},
        "Chart": {"Name": "podinfo", "Version": "6.14.1", "AppVersion": "6.14.1"},
        "Template": {"BasePath": "podinfo/templates"},
    }));
    let funcs = Arc::new(stand_in_funcs());
    let options = Options {
        missing_key: MissingKey::Zero,
        ..Options::default()
    };

    let rounds = 200;
    let start = Instant::now();
    let mut set = Templates::with_options(funcs.clone(), options.clone());
    for _ in 0..rounds {
        set = Templates::with_options(funcs.clone(), options.clone());
        for (name, text) in &files {
            set.parse(name, text).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let parse = start.elapsed() / rounds;

    let renderable: Vec<&String> = files
        .iter()
        .map(|(n, _)| n)
        .filter(|n| !n.ends_with(".tpl"))
        .collect();
    let start = Instant::now();
    let mut bytes = 0;
    for _ in 0..rounds {
        for name in &renderable {
            let mut top_for_file = top.clone();
            if let Value::Map(m) = &top {
                let copy = m.shallow_copy();
                copy.insert(
                    "Template",
                    Value::map(BTreeMap::from([
                        ("Name".to_string(), Value::string(name.as_str())),
                        ("BasePath".to_string(), Value::string("podinfo/templates")),
                    ])),
                );
                top_for_file = Value::Map(Arc::new(copy));
            }
            match set.execute(name, &top_for_file, &mut Budget::default()) {
                Ok(out) => bytes += out.len(),
                Err(e) => panic!("{name}: {e}"),
            }
        }
    }
    let render = start.elapsed() / rounds;
    println!(
        "podinfo: {} files; parse all {:?}; render {} files {:?} ({:?} per file, {} bytes per round)",
        files.len(),
        parse,
        renderable.len(),
        render,
        render / renderable.len() as u32,
        bytes / rounds as usize
    );
}

fn collect(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("templates").flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, root, out);
        } else if path
            .extension()
            .is_some_and(|e| e == "yaml" || e == "tpl" || e == "txt")
        {
            let name = format!("podinfo/{}", path.strip_prefix(root).unwrap().display());
            out.push((name, std::fs::read_to_string(&path).expect("template")));
        }
    }
}
