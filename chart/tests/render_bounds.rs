//! Hostile templates against the render's bounds, with the memory they make the renderer hold
//! measured by a counting allocator: each must fail with the error naming its limit while the
//! peak of allocated bytes stays bounded. The allocator also refuses to go past 1 GiB, so a bound
//! that does not hold aborts this test binary instead of exhausting the machine.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use capstan_chart::model::{Chart, ChartFile, ChartMetadata, ENGINE_ANNOTATION};
use capstan_chart::render::{Limit, RenderError, RenderLimits, RenderOptions, render_with_limits};
use capstan_chart::values::Values;

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
const HARD_CAP: usize = 1 << 30;

// SAFETY: every call is passed on to the system allocator unchanged; only counts are kept.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), SeqCst) + layout.size();
        if now > HARD_CAP {
            CURRENT.fetch_sub(layout.size(), SeqCst);
            return std::ptr::null_mut();
        }
        PEAK.fetch_max(now, SeqCst);
        // SAFETY: the layout is the caller's, as GlobalAlloc requires.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), SeqCst);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One measurement at a time: the counters are process-wide.
static MEASURING: Mutex<()> = Mutex::new(());

const MIB: usize = 1 << 20;

/// Renders `chart` within `limits` and returns the result and the peak of bytes allocated
/// beyond what was allocated before.
fn measure(chart: &Chart, limits: &RenderLimits) -> (Result<usize, RenderError>, usize) {
    let _one = MEASURING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let base = CURRENT.load(SeqCst);
    PEAK.store(base, SeqCst);
    let result = render_with_limits(chart, &Values::new(), &RenderOptions::default(), limits)
        .map(|rendered| rendered.manifests.len());
    (result, PEAK.load(SeqCst).saturating_sub(base))
}

fn chart_with(templates: &[(&str, &str)], files: Vec<ChartFile>) -> Chart {
    let mut metadata = ChartMetadata {
        api_version: "v2".into(),
        name: "app".into(),
        version: "1.0.0".into(),
        ..Default::default()
    };
    metadata
        .annotations
        .insert(ENGINE_ANNOTATION.into(), "jinja".into());
    Chart {
        metadata,
        templates: templates
            .iter()
            .map(|(path, text)| ChartFile {
                path: format!("templates/{path}"),
                data: text.as_bytes().to_vec(),
            })
            .collect(),
        files,
        ..Default::default()
    }
}

fn one_template(text: &str) -> Chart {
    chart_with(&[("x.yaml", text)], Vec::new())
}

/// Small limits keep the tests quick: 200 000 fuel is 12.5 MiB of data.
fn small_limits() -> RenderLimits {
    RenderLimits {
        template_fuel: 200_000,
        ..RenderLimits::default()
    }
}

/// What a render may hold with `small_limits`: the fuel's data, twice over while strings grow
/// by doubling, plus the chart and the engine.
const SMALL_PEAK: usize = 40 * MIB;

fn assert_stops(
    name: &str,
    chart: &Chart,
    limits: &RenderLimits,
    peak_limit: usize,
) -> RenderError {
    let (result, peak) = measure(chart, limits);
    println!("{name}: peak {} KiB: {result:?}", peak / 1024);
    let error = result.expect_err(name);
    assert!(
        peak < peak_limit,
        "{name}: peak {peak} bytes, over {peak_limit}"
    );
    assert!(
        error.to_string().contains("app/templates/x.yaml"),
        "{name}: {error}"
    );
    error
}

fn assert_out_of_fuel(name: &str, template: &str) {
    let error = assert_stops(name, &one_template(template), &small_limits(), SMALL_PEAK);
    assert!(
        matches!(
            error,
            RenderError::TooLong {
                limit: Some(Limit::TemplateFuel),
                ..
            }
        ),
        "{name}: {error}"
    );
    assert!(
        error.to_string().contains("template_fuel"),
        "{name}: {error}"
    );
}

#[test]
fn indent_bombs_stop_before_allocating() {
    let error = assert_stops(
        "indent width",
        &one_template("{{ 'x' | indent(2000000000) }}"),
        &small_limits(),
        SMALL_PEAK,
    );
    assert!(error.to_string().contains("wider than 1024"), "{error}");
    assert_out_of_fuel(
        "indent of many lines",
        "{{ ('x\\n' * 1000000) | indent(1000) }}",
    );
    assert_out_of_fuel(
        "nested indent",
        "{{ ('a\\n' * 20000) | indent(1000) | indent(1000) | nindent(1000) }}",
    );
    assert_out_of_fuel(
        "indent in a loop",
        "{% set ns = namespace(s='a') %}{% for i in range(40) %}{% set ns.s = (ns.s ~ '\\n' ~ ns.s) | indent(1000) %}{% endfor %}{{ ns.s }}",
    );
}

/// A list that holds the previous one twice, 60 times over: a few slots that print as 2^60
/// copies of a string.
const SHARED_LIST: &str = "{% set ns = namespace(v=['xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx']) %}{% for i in range(60) %}{% set ns.v = [ns.v, ns.v] %}{% endfor %}";

#[test]
fn output_bombs_that_cost_few_instructions_stop() {
    assert_out_of_fuel(
        "nested loops",
        "{% for i in range(100000) %}{% for j in range(100000) %}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx{% endfor %}{% endfor %}",
    );
    assert_out_of_fuel(
        "captured loops",
        "{% set x %}{% for i in range(100000) %}{% for j in range(100000) %}xxxxxxxxxxxxxxxxxxxxxxxxxxxx{% endfor %}{% endfor %}{% endset %}{{ x | length }}",
    );
    assert_out_of_fuel(
        "~ doubling",
        "{% set ns = namespace(s='xx') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
    );
    assert_out_of_fuel("* repetition", "{{ 'x' * 1000000000 }}");
    assert_out_of_fuel(
        "join",
        "{{ (['xxxxxxxxxx'] * 100000000) | join('yyyyyyyy') }}",
    );
    assert_out_of_fuel(
        "replace",
        "{{ ('x' * 100000) | replace('x', 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy') | replace('y', 'zzzzzzzzzzzzzzzzzzzz') }}",
    );
    assert_out_of_fuel(
        "format",
        "{{ '%s%s%s%s' | format('x' * 3000000, 'x' * 3000000, 'x' * 3000000, 'x' * 3000000) }}",
    );
    assert_out_of_fuel("split", "{{ ('x,' * 3000000) | split(',') | length }}");
    assert_out_of_fuel("lines", "{{ ('x\\n' * 3000000) | lines | length }}");
    assert_out_of_fuel(
        "b64encode growth",
        "{% set ns = namespace(s='xx') %}{% for i in range(64) %}{% set ns.s = ns.s | b64encode %}{% endfor %}",
    );
    assert_out_of_fuel(
        "quote growth",
        "{% set ns = namespace(s='\"\"') %}{% for i in range(64) %}{% set ns.s = ns.s | quote %}{% endfor %}",
    );
    for printing in [
        "{{ ns.v }}",
        "{% set y %}{{ ns.v }}{% endset %}{{ y | length }}",
        "{{ ns.v | tojson }}",
        "{{ ns.v | to_json }}",
        "{{ ns.v | to_yaml }}",
        "{{ ns.v | pprint }}",
        "{{ ns.v | string | length }}",
        "{{ '%s' | format(ns.v) | length }}",
        "{{ ns.v | join(',') | length }}",
        "{{ ns.v | quote }}",
        "{{ ns.v | upper }}",
        "{{ ns.v | sha256 }}",
        "{{ merge({'a': ns.v}, {}) | length }}",
    ] {
        assert_out_of_fuel(printing, &format!("{SHARED_LIST}{printing}"));
    }
}

#[test]
fn the_output_cap_is_enforced_while_writing() {
    let limits = RenderLimits {
        template_fuel: 50_000_000,
        chart_fuel: 50_000_000,
        max_output_bytes: MIB,
        ..RenderLimits::default()
    };
    let chart = one_template(
        "{% for i in range(100000) %}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx{% endfor %}",
    );
    let error = assert_stops("output cap", &chart, &limits, 4 * MIB);
    assert!(
        matches!(error, RenderError::OutputTooLarge { limit, .. } if limit == MIB),
        "{error}"
    );
    assert!(error.to_string().contains("max_output_bytes"), "{error}");
}

#[test]
fn a_hundred_thousand_tiny_objects_are_refused_while_splitting() {
    let chart = one_template(
        "{% for i in range(100000) %}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{{ i }}\n{% endfor %}",
    );
    let limits = RenderLimits {
        template_fuel: 5_000_000,
        ..RenderLimits::default()
    };
    let error = assert_stops("tiny objects", &chart, &limits, 48 * MIB);
    assert!(
        matches!(
            error,
            RenderError::TooManyObjects {
                document: 10_001,
                limit: 10_000,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("max_objects"), "{error}");
}

#[test]
fn yaml_aliases_cannot_expand_a_short_text() {
    let laughs = "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]\n";
    let error = assert_stops(
        "aliases in the output",
        &one_template(laughs),
        &RenderLimits::default(),
        16 * MIB,
    );
    assert!(
        matches!(error, RenderError::TooManyYamlNodes { .. }),
        "{error}"
    );
    let from_yaml = format!(
        "{{% set y = {:?} %}}{{{{ (y | from_yaml).h | length }}}}",
        laughs
    );
    let error = assert_stops(
        "aliases in from_yaml",
        &one_template(&from_yaml),
        &RenderLimits::default(),
        16 * MIB,
    );
    assert!(error.to_string().contains("from_yaml"), "{error}");
}

fn big_file() -> Vec<ChartFile> {
    vec![ChartFile {
        path: "big.txt".into(),
        data: vec![b'x'; 4 * MIB],
    }]
}

#[test]
fn reading_a_big_file_again_and_again_is_bounded() {
    let repeated = chart_with(
        &[(
            "x.yaml",
            "{% for i in range(100000) %}{{ files.get('big.txt') }}{% endfor %}",
        )],
        big_file(),
    );
    let error = assert_stops(
        "files.get in a loop",
        &repeated,
        &RenderLimits::default(),
        160 * MIB,
    );
    assert!(
        matches!(
            error,
            RenderError::TooLong { .. } | RenderError::OutputTooLarge { .. }
        ),
        "{error}"
    );
    // Each read hands out the same value: keeping ten thousand of them costs list slots only.
    let kept = chart_with(
        &[(
            "x.yaml",
            "{% set ns = namespace(l=[]) %}{% for i in range(10000) %}{% set ns.l = ns.l + [files['big.txt']] %}{% endfor %}apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: n{{ ns.l | length }}\n",
        )],
        big_file(),
    );
    let (result, peak) = measure(
        &kept,
        &RenderLimits {
            template_fuel: 50_000_000,
            chart_fuel: 50_000_000,
            ..RenderLimits::default()
        },
    );
    println!("kept reads: peak {} KiB: {result:?}", peak / 1024);
    assert_eq!(result.unwrap(), 1);
    assert!(peak < 16 * MIB, "peak {peak}");
}

#[test]
fn nested_renders_share_their_callers_budget() {
    // Eight levels of `include`, each holding 4 MiB while it includes the next: with a budget of
    // its own per level that would be 32 MiB at once; on the caller's remainder it stops early.
    let mut library = String::from("{% macro level8() %}{{ 'z' * 100 }}{% endmacro %}");
    for level in (1..8).rev() {
        library.push_str(&format!(
            "{{% macro level{level}() %}}{{% set held = 'x' * 4000000 %}}{{{{ include('level{}') }}}}{{{{ held | length }}}}{{% endmacro %}}",
            level + 1
        ));
    }
    let chart = chart_with(
        &[
            ("_lib.tpl", library.as_str()),
            ("x.yaml", "{{ include('level1') }}"),
        ],
        Vec::new(),
    );
    let error = assert_stops("nested includes", &chart, &small_limits(), 24 * MIB);
    assert!(matches!(error, RenderError::TooLong { .. }), "{error}");
}

#[test]
fn the_chart_budget_is_shared_by_all_templates() {
    // Each file uses about half its own budget; together they use up the chart's.
    let busy = "{% for i in range(30000) %}{% endfor %}";
    let files: Vec<(String, &str)> = (0..20).map(|i| (format!("t{i}.yaml"), busy)).collect();
    let templates: Vec<(&str, &str)> = files.iter().map(|(n, t)| (n.as_str(), *t)).collect();
    let chart = chart_with(&templates, Vec::new());
    let limits = RenderLimits {
        template_fuel: 200_000,
        chart_fuel: 1_000_000,
        ..RenderLimits::default()
    };
    let (result, _) = measure(&chart, &limits);
    let error = result.unwrap_err();
    assert!(
        matches!(
            error,
            RenderError::TooLong {
                limit: Some(Limit::ChartFuel),
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("chart_fuel"), "{error}");
    // Within the chart's budget the same files render.
    let (result, _) = measure(&chart, &RenderLimits::default());
    assert_eq!(result.unwrap(), 0);
}
