//! Budgets for untrusted templates: fuel, output size, nesting depth and range iterations stop
//! a hostile template with a typed error at a position, and no input overflows the stack.

use std::collections::BTreeMap;
use std::sync::Arc;

use capstan_gotemplate::{
    Budget, Error, FuncError, Funcs, Limit, Limits, Signature, Templates, Type, Value,
};

fn funcs() -> Funcs {
    let mut funcs = Funcs::new();
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
            Ok(Value::string(ctx.parse_and_execute(
                "tpl",
                text,
                args[1].clone(),
            )?))
        },
    );
    // Like Sprig's repeat: charges for the whole result before building it.
    funcs.register(
        "repeat",
        Signature::new([Type::int(), Type::String]),
        |ctx, args| {
            let count = args[0].as_i64().unwrap_or_default().max(0) as usize;
            let s = args[1].as_str().unwrap_or_default();
            ctx.charge_bytes(count.saturating_mul(s.len()))?;
            Ok(Value::string(s.repeat(count)))
        },
    );
    funcs.register("dict", Signature::variadic([], Type::Interface), |_, _| {
        Ok(Value::map(BTreeMap::new()))
    });
    funcs.register(
        "set",
        Signature::new([Type::interface_map(), Type::String, Type::Interface]),
        |_, args| {
            if let Some(map) = args[0].as_map() {
                map.insert(args[1].as_str().unwrap_or_default(), args[2].clone());
            }
            Ok(args[0].clone())
        },
    );
    funcs
}

fn run(template: &str, limits: Limits) -> Result<String, Error> {
    let mut set = Templates::new(Arc::new(funcs()));
    set.parse("main", template)?;
    set.execute("main", &Value::Nil, &mut Budget::new(limits))
}

fn budget_error(result: Result<String, Error>) -> capstan_gotemplate::BudgetError {
    match result {
        Err(Error::Budget(b)) => b,
        other => panic!("expected a budget error, got {other:?}"),
    }
}

#[test]
fn fuel_stops_a_long_loop_at_its_position() {
    let limits = Limits {
        fuel: 10_000,
        ..Limits::default()
    };
    let b = budget_error(run("line\n{{ range 100000000 }}{{ . }}{{ end }}", limits));
    assert_eq!(b.limit, Limit::Fuel);
    assert_eq!(b.allowed, 10_000);
    let text = b.to_string();
    assert!(text.starts_with("template: main:2:"), "{text}");
    assert!(text.contains("executing \"main\""), "{text}");
}

#[test]
fn fuel_counts_bytes_written() {
    // 50 iterations of 1000 bytes is 50000 bytes of output: over a fuel of 20000 though the
    // steps alone are few.
    let big = "x".repeat(1000);
    let limits = Limits {
        fuel: 20_000,
        ..Limits::default()
    };
    let b = budget_error(run(
        &format!("{{{{ range 50 }}}}{big}{{{{ end }}}}"),
        limits,
    ));
    assert_eq!(b.limit, Limit::Fuel);
}

#[test]
fn output_limit_is_enforced_while_rendering() {
    let limits = Limits {
        max_output: 1000,
        ..Limits::default()
    };
    let b = budget_error(run("{{ range 1000000 }}0123456789{{ end }}", limits));
    assert_eq!(b.limit, Limit::Output);
    assert_eq!(b.allowed, 1000);
    // Exactly at the limit is fine.
    assert_eq!(
        run("{{ range 100 }}0123456789{{ end }}", limits)
            .unwrap()
            .len(),
        1000
    );
}

#[test]
fn printf_width_and_functions_cannot_build_oversized_strings() {
    let limits = Limits {
        max_output: 1000,
        ..Limits::default()
    };
    let b = budget_error(run(r#"{{ $x := printf "%999999d" 1 }}"#, limits));
    assert_eq!(b.limit, Limit::Output);
    let b = budget_error(run(r#"{{ $x := repeat 1000000000000 "abc" }}"#, limits));
    assert_eq!(b.limit, Limit::Output);
    // The function's error is the budget error itself, not "error calling repeat: ...".
    assert!(!b.to_string().contains("error calling"), "{b}");
}

#[test]
fn depth_limit_stops_recursive_templates_and_includes() {
    let limits = Limits {
        max_depth: 20,
        ..Limits::default()
    };
    let b = budget_error(run(
        r#"{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}"#,
        limits,
    ));
    assert_eq!(b.limit, Limit::Depth);
    assert!(
        b.to_string()
            .starts_with(r#"template: main:1:28: executing "r""#),
        "{b}"
    );
    let b = budget_error(run(
        r#"{{ define "r" }}{{ include "r" . }}{{ end }}{{ include "r" . }}"#,
        limits,
    ));
    assert_eq!(b.limit, Limit::Depth);
    let b = budget_error(run(
        r#"{{ define "r" }}{{ tpl "{{ include \"r\" . }}" . }}{{ end }}{{ include "r" . }}"#,
        limits,
    ));
    assert_eq!(b.limit, Limit::Depth);
}

#[test]
fn range_iterations_are_capped_across_loops() {
    let limits = Limits {
        max_range_iterations: 10_000,
        ..Limits::default()
    };
    let b = budget_error(run(
        "{{ range 1000 }}{{ range 1000 }}{{ end }}{{ end }}",
        limits,
    ));
    assert_eq!(b.limit, Limit::RangeIterations);
    assert!(run("{{ range 100 }}{{ range 99 }}{{ end }}{{ end }}", limits).is_ok());
}

#[test]
fn a_budget_is_shared_by_executions() {
    let mut set = Templates::new(Arc::new(funcs()));
    set.parse("main", "{{ range 100 }}x{{ end }}").unwrap();
    // A run is about a hundred iterations and bytes: a few thousand units of fuel.
    let mut budget = Budget::new(Limits {
        fuel: 20_000,
        ..Limits::default()
    });
    let mut runs = 0;
    while set.execute("main", &Value::Nil, &mut budget).is_ok() {
        runs += 1;
        assert!(runs < 100, "the shared budget never ran out");
    }
    assert!(runs >= 1, "one run should fit in the budget");
    assert!(budget.fuel_used() <= 20_000);
}

#[test]
fn a_map_that_contains_itself_prints_within_bounds() {
    let limits = Limits {
        max_output: 100_000,
        ..Limits::default()
    };
    let result = run(
        r#"{{ $d := dict }}{{ $_ := set $d "self" $d }}{{ $d }}"#,
        limits,
    );
    // Either printed (cut at a nesting depth) or refused by the output limit; never a hang
    // or a stack overflow.
    match result {
        Ok(out) => assert!(out.len() <= 100_000 && out.contains("..."), "{out}"),
        Err(Error::Budget(b)) => assert_eq!(b.limit, Limit::Output),
        Err(e) => panic!("unexpected error {e}"),
    }
}

/// Runs `f` on a thread with a small stack, as a worker thread might have: nothing the limits
/// allow may overflow it.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no stack overflow or panic")
}

#[test]
fn deepest_allowed_nesting_fits_a_small_stack() {
    on_small_stack(|| {
        let ifs = format!("{}x{}", "{{ if 1 }}".repeat(200), "{{ end }}".repeat(200));
        assert_eq!(run(&ifs, Limits::default()).unwrap(), "x");
        let parens = format!("{{{{ {}1{} }}}}", "(".repeat(200), ")".repeat(200));
        assert_eq!(run(&parens, Limits::default()).unwrap(), "1");
        let recursion = r#"{{ define "r" }}{{ include "r" . }}{{ end }}{{ include "r" . }}"#;
        assert_eq!(
            budget_error(run(recursion, Limits::default())).limit,
            Limit::Depth
        );
        let recursion = r#"{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}"#;
        assert_eq!(
            budget_error(run(recursion, Limits::default())).limit,
            Limit::Depth
        );
    });
}

#[test]
fn nesting_beyond_the_parser_bounds_is_a_parse_error() {
    on_small_stack(|| {
        let ifs = format!(
            "{}x{}",
            "{{ if 1 }}".repeat(100_000),
            "{{ end }}".repeat(100_000)
        );
        let err = run(&ifs, Limits::default()).unwrap_err().to_string();
        assert_eq!(err, "template: main:1: max nesting depth exceeded");
        let parens = format!("{{{{ {}1 }}}}", "(".repeat(100_000));
        let err = run(&parens, Limits::default()).unwrap_err().to_string();
        assert_eq!(err, "template: main:1: max expression depth exceeded");
    });
}

#[test]
fn function_errors_and_budget_errors_stay_distinct() {
    let mut funcs = funcs();
    funcs.register("boom", Signature::new([]), |_, _| {
        Err(FuncError::new("boom"))
    });
    let mut set = Templates::new(Arc::new(funcs));
    set.parse("main", "{{ boom }}").unwrap();
    let err = set.render("main", &Value::Nil).unwrap_err();
    assert!(!err.is_budget());
    assert_eq!(
        err.to_string(),
        r#"template: main:1:3: executing "main" at <boom>: error calling boom: boom"#
    );
}

#[test]
fn deeply_nested_values_drop_without_recursion() {
    on_small_stack(|| {
        let mut value = Value::list(Vec::new());
        for i in 0..1_000_000 {
            value = if i % 2 == 0 {
                Value::list(vec![value])
            } else {
                Value::map(BTreeMap::from([("k".to_string(), value)]))
            };
        }
        // Printing is cut at a fixed depth; dropping must not recurse a million frames.
        assert!(value.to_string().contains("..."));
        drop(value);
    });
}
