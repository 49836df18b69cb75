//! Options: custom delimiters and template set naming. Expected texts come from Go 1.26
//! (`template.New("main").Delims("[[", "]]")`, data `{"a": 1}`).

use std::sync::Arc;

use capstan_gotemplate::{Funcs, Options, Templates, Value};

fn render_with_delims(text: &str) -> Result<String, String> {
    let options = Options {
        left_delim: "[[".into(),
        right_delim: "]]".into(),
        ..Options::default()
    };
    let mut set = Templates::with_options(Arc::new(Funcs::new()), options);
    set.parse("main", text).map_err(|e| e.to_string())?;
    let data = Value::from_json(&serde_json::json!({"a": 1}));
    set.render("main", &data).map_err(|e| e.to_string())
}

#[test]
fn custom_delimiters() {
    let cases: &[(&str, Result<&str, &str>)] = &[
        ("{{ .a }} [[ .a ]]", Ok("{{ .a }} 1")),
        ("x [[- /* c */ -]] y", Ok("xy")),
        ("[[ if .a ]]T[[ end ]]", Ok("T")),
        (
            "[[ .a ]",
            Err(r#"template: main:1: unexpected "]" in operand"#),
        ),
        ("[[ \"]]\" ]]", Ok("]]")),
        ("a [[- .a -]] b", Ok("a1b")),
    ];
    for (text, want) in cases {
        let want = want.map(str::to_string).map_err(str::to_string);
        assert_eq!(render_with_delims(text), want, "template {text}");
    }
}

#[test]
fn a_missing_template_names_the_set() {
    let mut set = Templates::new(Arc::new(Funcs::new()));
    set.set_name("gotpl");
    set.parse("a.yaml", "x").unwrap();
    let err = set.render("b.yaml", &Value::Nil).unwrap_err().to_string();
    assert_eq!(
        err,
        r#"template: no template "b.yaml" associated with template "gotpl""#
    );
}

#[test]
fn a_later_definition_replaces_an_earlier_one_unless_empty() {
    let mut set = Templates::new(Arc::new(Funcs::new()));
    set.parse("a", r#"{{ define "x" }}first{{ end }}{{ template "x" }}"#)
        .unwrap();
    set.parse("b", r#"{{ define "x" }}second{{ end }}"#)
        .unwrap();
    set.parse("c", r#"{{ define "x" }}  {{ end }}"#).unwrap();
    assert_eq!(set.render("a", &Value::Nil).unwrap(), "second");
}
