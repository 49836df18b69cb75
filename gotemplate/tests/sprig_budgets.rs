//! Sprig's functions under the budgets: every function that can build large text or lists
//! (`repeat`, `indent`, `until`, `randAlphaNum`, `toYaml`...) is stopped by the output limit or
//! the fuel before it builds, with a budget error rather than an allocation the limits do not
//! allow; the same templates well within the limits render.

use capstan_gotemplate::{Budget, Error, Funcs, Limit, Limits, Templates, Value};
use std::sync::Arc;

fn render(template: &str, limits: Limits) -> Result<String, Error> {
    let mut funcs = Funcs::new();
    capstan_gotemplate::sprig::register(&mut funcs);
    let mut set = Templates::new(Arc::new(funcs));
    set.parse("t", template)?;
    let mut budget = Budget::new(limits);
    set.execute("t", &Value::Nil, &mut budget)
}

fn small_limits() -> Limits {
    Limits {
        fuel: 5_000_000,
        max_output: 1 << 20,
        ..Limits::default()
    }
}

/// Templates that would build far more than the limits allow, one per function that builds.
const HUGE: &[&str] = &[
    r#"{{ repeat 100000000 "abc" }}"#,
    r#"{{ indent 100000000 "a\nb" }}"#,
    r#"{{ nindent 100000000 "x" }}"#,
    r#"{{ until 100000000 | len }}"#,
    r#"{{ untilStep 0 1000000000 1 | len }}"#,
    r#"{{ seq 100000000 | len }}"#,
    r#"{{ randAlphaNum 100000000 | len }}"#,
    r#"{{ randBytes 100000000 | len }}"#,
    r#"{{ $s := repeat 500000 "ab" }}{{ replace "a" (repeat 100 "x") $s | len }}"#,
    r#"{{ $s := repeat 500000 "ab" }}{{ b64enc $s | b64enc | b64enc | len }}"#,
    r#"{{ $l := until 200000 }}{{ join "----------" $l | len }}"#,
    r#"{{ $l := until 200000 }}{{ toYaml $l | len }}"#,
    r#"{{ $l := until 200000 }}{{ toJson $l | len }}"#,
    r#"{{ $s := repeat 400000 "ab" }}{{ wrapWith 1 "<br/>" $s | len }}"#,
];

#[test]
fn building_functions_stop_at_the_limits() {
    for template in HUGE {
        match render(template, small_limits()) {
            Err(Error::Budget(budget)) => {
                assert!(
                    matches!(budget.limit, Limit::Output | Limit::Fuel),
                    "{template}: {budget}"
                );
            }
            other => panic!("{template}: expected a budget error, got {other:?}"),
        }
    }
}

#[test]
fn the_same_functions_render_within_the_limits() {
    let cases = [
        (r#"{{ repeat 3 "ab" }}"#, "ababab"),
        (r#"{{ indent 2 "a\nb" }}"#, "  a\n  b"),
        (r#"{{ until 3 | len }}"#, "3"),
        (r#"{{ randAlphaNum 12 | len }}"#, "12"),
        (r#"{{ until 3 | toYaml }}"#, "- 0\n- 1\n- 2"),
    ];
    for (template, expected) in cases {
        assert_eq!(
            render(template, small_limits()).unwrap(),
            expected,
            "{template}"
        );
    }
}

#[test]
fn a_map_containing_itself_is_an_error_not_a_hang() {
    let template = r#"{{ $d := dict }}{{ $_ := set $d "self" $d }}{{ deepCopy $d }}"#;
    let error = render(template, Limits::default()).unwrap_err();
    assert!(error.to_string().contains("nested more than"), "{error}");
    let template = r#"{{ $d := dict }}{{ $_ := set $d "self" $d }}{{ mustToJson $d }}"#;
    let error = render(template, Limits::default()).unwrap_err();
    assert!(error.to_string().contains("cycle"), "{error}");
}
