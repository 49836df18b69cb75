//! Calling registered functions, methods of objects, and nested template execution (`include`,
//! `tpl`) through [`CallContext`].
//!
//! Every expected text below was produced by real Go 1.26: the function cases with the project's
//! oracle (`oracle eval -funcs sprig -missingkey zero`, whose `upper`, `trunc`, `default`,
//! `list`, `typeOf` and `kindOf` have the Go signatures registered here), the object cases with
//! a Go program whose types mirror Helm's (`VersionSet` with `Has`, `KubeVersion` with a
//! pointer `String`, `*Capabilities`, `Files` with `Get`, `*Meta`) and Helm-style `include`
//! and `tpl` closures, executed with `missingkey=zero`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use capstan_gotemplate::{
    CallContext, FuncError, Funcs, Kind, MissingKey, Object, Options, Signature, Templates, Type,
    Value,
};

fn test_funcs() -> Funcs {
    let mut funcs = Funcs::new();
    funcs.register("upper", Signature::new([Type::String]), |ctx, args| {
        let s = args[0].as_str().unwrap_or_default().to_uppercase();
        ctx.charge_bytes(s.len())?;
        Ok(Value::string(s))
    });
    funcs.register(
        "trunc",
        Signature::new([Type::int(), Type::String]),
        |_, args| {
            let n = args[0].as_i64().unwrap_or_default().max(0) as usize;
            let s = args[1].as_str().unwrap_or_default();
            Ok(Value::string(s.chars().take(n).collect::<String>()))
        },
    );
    funcs.register(
        "default",
        Signature::variadic([Type::Interface], Type::Interface),
        |_, args| {
            let given = args.get(1).cloned().unwrap_or(Value::Nil);
            Ok(if given.is_true() {
                given
            } else {
                args[0].clone()
            })
        },
    );
    funcs.register(
        "list",
        Signature::variadic([], Type::Interface),
        |ctx, args| {
            ctx.charge_bytes(args.len())?;
            Ok(Value::list(args.to_vec()))
        },
    );
    funcs.register("typeOf", Signature::new([Type::Interface]), |_, args| {
        Ok(Value::string(args[0].type_name()))
    });
    funcs.register("kindOf", Signature::new([Type::Interface]), |_, args| {
        Ok(Value::string(args[0].kind().name()))
    });
    funcs.register(
        "include",
        Signature::new([Type::String, Type::Interface]),
        |ctx, args| {
            let name = args[0].as_str().unwrap_or_default();
            Ok(Value::string(ctx.execute_template(name, args[1].clone())?))
        },
    );
    funcs.register(
        "tpl",
        Signature::new([Type::String, Type::Interface]),
        |ctx, args| {
            let text = args[0].as_str().unwrap_or_default();
            let quoted = capstan_gotemplate::fmt::quote(text);
            match ctx.parse_and_execute("main", text, args[1].clone()) {
                Ok(out) => Ok(Value::string(out)),
                Err(FuncError::Template(e))
                    if matches!(*e, capstan_gotemplate::Error::Parse(_)) =>
                {
                    Err(FuncError::Template(e).wrap(format!("cannot parse template {quoted}")))
                }
                Err(e) => Err(e.wrap(format!("error during tpl function execution for {quoted}"))),
            }
        },
    );
    funcs
}

fn render(template: &str, data: Value) -> Result<String, String> {
    let options = Options {
        missing_key: MissingKey::Zero,
        ..Options::default()
    };
    let mut set = Templates::with_options(Arc::new(test_funcs()), options);
    set.set_name("main");
    set.parse("main", template).map_err(|e| e.to_string())?;
    set.render("main", &data).map_err(|e| e.to_string())
}

fn json(data: serde_json::Value) -> Value {
    Value::from_json(&data)
}

fn sample() -> Value {
    json(serde_json::json!({"n": 3, "s": "hello", "z": null, "l": [1, "a"], "m": {"a": 1}}))
}

#[test]
fn arguments_are_checked_against_go_signatures() {
    let cases: &[(&str, Result<&str, &str>)] = &[
        ("{{ upper .s }}", Ok("HELLO")),
        (
            "{{ upper 3 }}",
            Err(r#"template: main:1:9: executing "main" at <3>: expected string; found 3"#),
        ),
        (
            "{{ upper .n }}",
            Err(
                r#"template: main:1:9: executing "main" at <.n>: wrong type for value; expected string; got float64"#,
            ),
        ),
        (
            "{{ .n | upper }}",
            Err(
                r#"template: main:1:8: executing "main" at <upper>: wrong type for value; expected string; got float64"#,
            ),
        ),
        (
            "{{ upper .missing }}",
            Err(
                r#"template: main:1:9: executing "main" at <.missing>: wrong type for value; expected string; got interface {}"#,
            ),
        ),
        (
            "{{ .missing | upper }}",
            Err(
                r#"template: main:1:14: executing "main" at <upper>: invalid value; expected string"#,
            ),
        ),
        (
            "{{ upper .z }}",
            Err(
                r#"template: main:1:9: executing "main" at <.z>: wrong type for value; expected string; got interface {}"#,
            ),
        ),
        ("{{ trunc 2 \"abcdef\" }}", Ok("ab")),
        (
            "{{ trunc 2.5 \"abc\" }}",
            Err(r#"template: main:1:9: executing "main" at <2.5>: expected integer; found 2.5"#),
        ),
        (
            "{{ trunc .n \"abc\" }}",
            Err(
                r#"template: main:1:9: executing "main" at <.n>: wrong type for value; expected int; got float64"#,
            ),
        ),
        (
            "{{ trunc \"2\" \"abc\" }}",
            Err(r#"template: main:1:9: executing "main" at <"2">: expected integer; found "2""#),
        ),
        (
            "{{ upper }}",
            Err(
                r#"template: main:1:3: executing "main" at <upper>: wrong number of args for upper: want 1 got 0"#,
            ),
        ),
        (
            "{{ upper \"a\" \"b\" }}",
            Err(
                r#"template: main:1:3: executing "main" at <upper>: wrong number of args for upper: want 1 got 2"#,
            ),
        ),
        (
            "{{ \"a\" | upper \"b\" }}",
            Err(
                r#"template: main:1:9: executing "main" at <upper>: wrong number of args for upper: want 1 got 2"#,
            ),
        ),
        (
            "{{ trunc 2 }}",
            Err(
                r#"template: main:1:3: executing "main" at <trunc>: wrong number of args for trunc: want 2 got 1"#,
            ),
        ),
        (
            "{{ upper nil }}",
            Err(r#"template: main:1:9: executing "main" at <nil>: cannot assign nil to string"#),
        ),
        ("{{ default nil .missing }}", Ok("<no value>")),
        ("{{ list 1 \"a\" nil }}", Ok("[1 a <nil>]")),
        ("{{ typeOf (list 1) }}", Ok("[]interface {}")),
        ("{{ .s | trunc 2 }}", Ok("he")),
        ("{{ printf \"%s\" (upper \"x\") }}", Ok("X")),
        ("{{ upper (trunc 1 \"xy\") | printf \"<%s>\" }}", Ok("<X>")),
        ("{{ typeOf .m }}", Ok("map[string]interface {}")),
        (
            "{{ typeOf 1 }} {{ typeOf 1.5 }} {{ typeOf \"s\" }} {{ typeOf .n }} {{ typeOf .l }} {{ typeOf .missing }} {{ kindOf .m }} {{ kindOf .missing }}",
            Ok("int float64 string float64 []interface {} <nil> map invalid"),
        ),
    ];
    for (template, want) in cases {
        let got = render(template, sample());
        let want = want.map(str::to_string).map_err(str::to_string);
        assert_eq!(got, want, "template {template}");
    }
}

// ---- objects shaped like Helm's ----

/// `type VersionSet []string` with `func (v VersionSet) Has(string) bool`.
#[derive(Debug)]
struct VersionSet(Vec<&'static str>);

impl Object for VersionSet {
    fn type_name(&self) -> Cow<'_, str> {
        "main.VersionSet".into()
    }
    fn kind(&self) -> Kind {
        Kind::Slice
    }
    fn method(&self, name: &str) -> Option<Signature> {
        (name == "Has").then(|| Signature::new([Type::String]))
    }
    fn call_method(
        &self,
        _: &str,
        _: &mut CallContext<'_, '_>,
        args: &[Value],
    ) -> Result<Value, FuncError> {
        Ok(Value::Bool(
            self.0.iter().any(|v| Some(*v) == args[0].as_str()),
        ))
    }
    fn underlying(&self) -> Option<Value> {
        Some(Value::string_list(self.0.iter().copied()))
    }
}

/// `type KubeVersion struct { Version, Major, Minor string }` with a pointer-receiver `String`.
#[derive(Debug)]
struct KubeVersion;

impl Object for KubeVersion {
    fn type_name(&self) -> Cow<'_, str> {
        "main.KubeVersion".into()
    }
    fn field(&self, name: &str) -> Option<Value> {
        self.print_fields()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }
    fn method(&self, name: &str) -> Option<Signature> {
        (name == "GitVersion" || name == "String").then(|| Signature::new([]))
    }
    fn call_method(
        &self,
        _: &str,
        _: &mut CallContext<'_, '_>,
        _: &[Value],
    ) -> Result<Value, FuncError> {
        Ok(Value::string("v1.36.0"))
    }
    fn stringer(&self) -> Option<String> {
        Some("v1.36.0".into())
    }
    fn stringer_needs_pointer(&self) -> bool {
        true
    }
    fn print_fields(&self) -> Vec<(Cow<'_, str>, Value)> {
        vec![
            ("Version".into(), Value::string("v1.36.0")),
            ("Major".into(), Value::string("1")),
            ("Minor".into(), Value::string("36")),
        ]
    }
}

/// `*Capabilities { APIVersions VersionSet; KubeVersion KubeVersion }`.
#[derive(Debug)]
struct Capabilities;

impl Object for Capabilities {
    fn type_name(&self) -> Cow<'_, str> {
        "*main.Capabilities".into()
    }
    fn kind(&self) -> Kind {
        Kind::Ptr
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "APIVersions" => Some(Value::object(VersionSet(vec!["v1", "apps/v1"]))),
            "KubeVersion" => Some(Value::object(KubeVersion)),
            _ => None,
        }
    }
}

/// `type Files map[string][]byte` with `Get(string) string` and a failing method.
#[derive(Debug)]
struct Files;

impl Object for Files {
    fn type_name(&self) -> Cow<'_, str> {
        "main.Files".into()
    }
    fn kind(&self) -> Kind {
        Kind::Map
    }
    fn method(&self, name: &str) -> Option<Signature> {
        matches!(name, "Get" | "Fail").then(|| Signature::new([Type::String]))
    }
    fn call_method(
        &self,
        name: &str,
        _: &mut CallContext<'_, '_>,
        args: &[Value],
    ) -> Result<Value, FuncError> {
        match name {
            "Get" => Ok(Value::string(if args[0].as_str() == Some("a.txt") {
                "hello\n"
            } else {
                ""
            })),
            _ => Err(FuncError::new(format!(
                "no file {}",
                args[0].as_str().unwrap_or_default()
            ))),
        }
    }
}

/// `*Meta { Name, Version string }`, possibly nil.
#[derive(Debug)]
struct Meta {
    nil: bool,
}

impl Object for Meta {
    fn type_name(&self) -> Cow<'_, str> {
        "*main.Meta".into()
    }
    fn kind(&self) -> Kind {
        Kind::Ptr
    }
    fn field(&self, name: &str) -> Option<Value> {
        self.print_fields()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }
    fn is_nil(&self) -> bool {
        self.nil
    }
    fn print_fields(&self) -> Vec<(Cow<'_, str>, Value)> {
        vec![
            ("Name".into(), Value::string("demo")),
            ("Version".into(), Value::string("1.0.0")),
        ]
    }
}

fn helm_like_data() -> Value {
    let chart = Value::object(Meta { nil: false });
    let mut top = BTreeMap::new();
    top.insert("Capabilities".to_string(), Value::object(Capabilities));
    top.insert("Files".to_string(), Value::object(Files));
    top.insert("Chart".to_string(), chart);
    top.insert("NilChart".to_string(), Value::object(Meta { nil: true }));
    Value::map(top)
}

#[test]
fn objects_behave_like_go_structs_and_named_types() {
    let cases: &[(&str, Result<&str, &str>)] = &[
        (
            "{{ .Capabilities.APIVersions.Has \"apps/v1\" }}",
            Ok("true"),
        ),
        ("{{ .Capabilities.APIVersions.Has \"x\" }}", Ok("false")),
        ("{{ .Capabilities.KubeVersion.Version }}", Ok("v1.36.0")),
        ("{{ .Capabilities.KubeVersion }}", Ok("v1.36.0")),
        ("{{ .Capabilities.KubeVersion.GitVersion }}", Ok("v1.36.0")),
        ("{{ .Capabilities.APIVersions }}", Ok("[v1 apps/v1]")),
        (
            "{{ range .Capabilities.APIVersions }}{{ . }};{{ end }}",
            Ok("v1;apps/v1;"),
        ),
        ("{{ len .Capabilities.APIVersions }}", Ok("2")),
        ("{{ .Files.Get \"a.txt\" }}", Ok("hello\n")),
        (
            "{{ .Files.Get }}",
            Err(
                r#"template: main:1:9: executing "main" at <.Files.Get>: wrong number of args for Get: want 1 got 0"#,
            ),
        ),
        (
            "{{ .Files.Get 1 }}",
            Err(r#"template: main:1:14: executing "main" at <1>: expected string; found 1"#),
        ),
        (
            "{{ .Files.Fail \"x\" }}",
            Err(
                r#"template: main:1:9: executing "main" at <.Files.Fail>: error calling Fail: no file x"#,
            ),
        ),
        ("{{ .Chart.Name }}", Ok("demo")),
        (
            "{{ .Chart.Nope }}",
            Err(
                r#"template: main:1:9: executing "main" at <.Chart.Nope>: can't evaluate field Nope in type interface {}"#,
            ),
        ),
        (
            "{{ .Chart.Name \"x\" }}",
            Err(
                r#"template: main:1:9: executing "main" at <.Chart.Name>: Name has arguments but cannot be invoked as function"#,
            ),
        ),
        ("{{ .Chart }}", Ok("{demo 1.0.0}")),
        (
            "{{ .NilChart.Name }}",
            Err(
                r#"template: main:1:12: executing "main" at <.NilChart.Name>: nil pointer evaluating interface {}.Name"#,
            ),
        ),
        (
            "{{ .Capabilities.APIVersions.Nope }}",
            Err(
                r#"template: main:1:16: executing "main" at <.Capabilities.APIVersions.Nope>: can't evaluate field Nope in type main.VersionSet"#,
            ),
        ),
        (
            "{{ \"apps/v1\" | .Capabilities.APIVersions.Has }}",
            Ok("true"),
        ),
        ("{{ index .Capabilities.APIVersions 1 }}", Ok("apps/v1")),
        (
            "{{ printf \"%v|%s|%T\" .Capabilities.KubeVersion .Capabilities.KubeVersion .Capabilities.KubeVersion }}",
            Ok("{v1.36.0 1 36}|{v1.36.0 1 36}|main.KubeVersion"),
        ),
        (
            "{{ printf \"%T %T\" .Chart .Capabilities.APIVersions }}",
            Ok("*main.Meta main.VersionSet"),
        ),
        ("{{ if .NilChart }}T{{ else }}F{{ end }}", Ok("F")),
        ("{{ eq .Chart .Chart }}", Ok("true")),
        (
            "{{ .Capabilities.KubeVersion.Major | printf \"%s.x\" }}",
            Ok("1.x"),
        ),
    ];
    for (template, want) in cases {
        let got = render(template, helm_like_data());
        let want = want.map(str::to_string).map_err(str::to_string);
        assert_eq!(got, want, "template {template}");
    }
}

#[test]
fn include_and_tpl_render_in_the_current_set() {
    let cases: &[(&str, Result<&str, &str>)] = &[
        (
            "{{ define \"a\" }}A{{ .Chart.Name }}{{ end }}{{ include \"a\" . }}",
            Ok("Ademo"),
        ),
        (
            "{{ define \"a\" }}{{ .x.y }}{{ end }}{{ include \"a\" . }}",
            Err(
                r#"template: main:1:38: executing "main" at <include "a" .>: error calling include: template: main:1:21: executing "a" at <.x.y>: nil pointer evaluating interface {}.y"#,
            ),
        ),
        (
            "{{ include \"nope\" . }}",
            Err(
                r#"template: main:1:3: executing "main" at <include "nope" .>: error calling include: template: no template "nope" associated with template "main""#,
            ),
        ),
        (
            "{{ define \"a\" }}[{{ . }}]{{ end }}{{ include \"a\" \"s\" | printf \"%s!\" }}",
            Ok("[s]!"),
        ),
        ("{{ tpl \"{{ .Chart.Name }}\" . }}", Ok("demo")),
        (
            "{{ tpl \"{{ .x.y }}\" . }}",
            Err(
                r#"template: main:1:3: executing "main" at <tpl "{{ .x.y }}" .>: error calling tpl: error during tpl function execution for "{{ .x.y }}": template: main:1:5: executing "main" at <.x.y>: nil pointer evaluating interface {}.y"#,
            ),
        ),
        (
            "{{ tpl \"{{ .x\" . }}",
            Err(
                r#"template: main:1:3: executing "main" at <tpl "{{ .x" .>: error calling tpl: cannot parse template "{{ .x": template: main:1: unclosed action"#,
            ),
        ),
    ];
    for (template, want) in cases {
        let got = render(template, helm_like_data());
        let want = want.map(str::to_string).map_err(str::to_string);
        assert_eq!(got, want, "template {template}");
    }
}

#[test]
fn tpl_defines_are_visible_to_its_includes_and_then_gone() {
    // Helm re-injects `include` over tpl's copy of the set, so a define inside tpl is
    // includable from that tpl, and not from the caller afterwards.
    let template =
        r#"{{ tpl "{{ define \"d\" }}D{{ end }}{{ include \"d\" . }}" . }}|{{ include "d" . }}"#;
    let got = render(template, helm_like_data());
    assert_eq!(
        got,
        Err(r#"template: main:1:67: executing "main" at <include "d" .>: error calling include: template: no template "d" associated with template "main""#.to_string())
    );
    let got = render(
        r#"{{ tpl "{{ define \"d\" }}D{{ end }}{{ include \"d\" . }}" . }}"#,
        helm_like_data(),
    );
    assert_eq!(got, Ok("D".to_string()));
}
