//! Helm's function map (Sprig plus Helm's own functions) on templates whose expected output or
//! error was printed by a Go program rendering them with Helm v3.22.0's function map (Sprig
//! v3.3.0, sigs.k8s.io/yaml v1.6.0, BurntSushi/toml v1.6.0) and Go 1.26's text/template, with
//! the same values as `.Values`. Helm's own vectors run whole charts; these check the functions
//! on their own, including Helm's `toYaml` output for the shapes charts feed it.

use capstan_gotemplate::{Funcs, MissingKey, Options, Templates, Value};
use std::sync::Arc;

/// The values every case sees as `.Values`.
const VALUES: &str = r#"{"replicas": 3, "resources": {"limits": {"memory": "128Mi"}, "requests": {"cpu": "100m"}}, "list": [1, "two"]}"#;

/// (template, Go's output or Go's error text)
const CASES: &[(&str, Result<&str, &str>)] = &[
    (
        r#"{{ toYaml "a\nb" }}|{{ toYaml "foo" }}|{{ toYaml (list "a" (list "b" "c") (dict "x" 1)) }}|{{ toYaml (list) }}|{{ toYaml nil }}|{{ toYaml 1e6 }}|{{ toYaml 1.5e-7 }}|{{ toYaml 1e20 }}|{{ toYaml "yes" }}|{{ toYaml "" }}|{{ toYaml (dict) }}"#,
        Ok(r#"|-
  a
  b|foo|- a
- - b
  - c
- x: 1|[]|null|1000000|1.5e-07|1e+20|"yes"|""|{}"#),
    ),
    (
        r##"{{ toYaml (dict "a" (list (list 1 2) (list)) "b" "x\n" "c" " lead" "d" "trail " "e" "1.0" "f" "null" "g" "a: b" "h" "#x" "i" 3.0 "j" "0x1F" "k" "1e3" "l" "~" "m" "on" "n" "12:30" "o" ".5" "p" "-" "q" "@x" "r" "a\n\n") }}"##,
        Ok(r#"a:
- - 1
  - 2
- []
b: |
  x
c: ' lead'
d: 'trail '
e: "1.0"
f: "null"
g: 'a: b'
h: '#x'
i: 3
j: "0x1F"
k: "1e3"
l: "~"
m: "on"
"n": "12:30"
o: ".5"
p: '-'
q: '@x'
r: |+
  a
"#),
    ),
    (
        r#"{{ toYaml (list (dict "a" (dict "b" 1) "c" (list 1))) }}"#,
        Ok(r#"- a:
    b: 1
  c:
  - 1"#),
    ),
    (
        r#"{{ toYaml (dict "x" "line1\n  indented\nline3") }}"#,
        Ok(r#"x: |-
  line1
    indented
  line3"#),
    ),
    (
        r#"{{ toYaml (list "a\nb") }}"#,
        Ok(r#"- |-
  a
  b"#),
    ),
    (
        r#"{{ toYaml (repeat 20 "word ") }}"#,
        Ok(
            r#"'word word word word word word word word word word word word word word word word word
  word word word '"#,
        ),
    ),
    (
        r#"{{ toYaml (list (repeat 20 "word ")) }}"#,
        Ok(
            r#"- 'word word word word word word word word word word word word word word word word
  word word word word '"#,
        ),
    ),
    (
        r#"{{ toYaml (list (list "a\nb")) }}"#,
        Ok(r#"- - |-
    a
    b"#),
    ),
    (
        r#"{{ toYaml (dict "k" (list (dict "a" "x\ny"))) }}"#,
        Ok(r#"k:
- a: |-
    x
    y"#),
    ),
    (r#"{{ toYaml (list (dict)) }}"#, Ok(r#"- {}"#)),
    (
        r#"{{ toYaml 3 }}|{{ toYaml true }}|{{ toYaml 1.5 }}|{{ toYaml (int64 5) }}|{{ toYaml .Values }}"#,
        Ok(r#"3|true|1.5|5|list:
- 1
- two
replicas: 3
resources:
  limits:
    memory: 128Mi
  requests:
    cpu: 100m"#),
    ),
    (
        r#"{{ toYaml .Values.resources | nindent 4 }}"#,
        Ok(r#"
    limits:
      memory: 128Mi
    requests:
      cpu: 100m"#),
    ),
    (
        r#"{{ toYaml (dict "tab" "a\tb" "uni" "héllo" "quote" "it's" "dq" "say \"hi\"" "bs" "a\\b" "ctrl" "\u0001" "nbsp" "a\u00a0b" "emoji" "😀" "long" (repeat 30 "ab ")) }}"#,
        Ok(r#"bs: a\b
ctrl: "\x01"
dq: say "hi"
emoji: "\U0001F600"
long: 'ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab
  ab ab ab ab ab '
nbsp: a b
quote: it's
tab: "a\tb"
uni: héllo"#),
    ),
    (
        r#"{{ toYaml (dict "z" 1 "a10" 2 "a9" 3 "B" 4 "_x" 5 "1" 6 "a.b" 7) }}"#,
        Ok(r#"_x: 5
"1": 6
B: 4
a.b: 7
a9: 3
a10: 2
z: 1"#),
    ),
    (
        r#"{{ toYaml (dict "float" 0.1 "big" 123456789.0 "neg" -0.5 "int" 7 "t" true "f" false "n" nil) }}"#,
        Ok(r#"big: 123456789
f: false
float: 0.1
int: 7
"n": null
neg: -0.5
t: true"#),
    ),
    (
        r#"{{ toYamlPretty (dict "a" (list 1 2) "b" (dict "c" "d\ne")) }}"#,
        Ok(r#"a:
  - 1
  - 2
b:
  c: |-
    d
    e"#),
    ),
    (
        r#"{{ toYamlPretty (list (dict "a" 1 "b" (list "x")) "y") }}|{{ toYamlPretty "yes" }}|{{ toYamlPretty 1e6 }}|{{ toYamlPretty (dict) }}"#,
        Ok(r#"- a: 1
  b:
    - x
- "y"|"yes"|1e+06|{}"#),
    ),
    (
        r#"{{ toYamlPretty (dict "long" (repeat 30 "ab ") "n" "on" "e" "") }}"#,
        Ok(r#"e: ""
long: 'ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab '
"n": "on""#),
    ),
    (
        r#"{{ toJson (dict "a" 1 "b" (list "x" 2.5 nil true)) }} {{ toPrettyJson (dict "a" (list) "b" (dict)) }} {{ toRawJson "<&>" }} {{ toJson "<&>" }} {{ mustToJson 1 }}"#,
        Ok(r#"{"a":1,"b":["x",2.5,null,true]} {
  "a": [],
  "b": {}
} "<&>" "\u003c\u0026\u003e" 1"#),
    ),
    (
        r#"{{ fromJson "{\"a\":[1,2]}" | toJson }} {{ fromJson "x" | toJson }} {{ fromJson "[1]" | toJson }} {{ mustFromJson "[1]" | toJson }} {{ fromJsonArray "[1,\"a\"]" | toJson }} {{ fromJsonArray "{}" | toJson }}"#,
        Ok(
            r#"{"a":[1,2]} {"Error":"invalid character 'x' looking for beginning of value"} {"Error":"json: cannot unmarshal array into Go value of type map[string]interface {}"} [1] [1,"a"] ["json: cannot unmarshal object into Go value of type []interface {}"]"#,
        ),
    ),
    (
        r#"{{ fromYaml "a: 1\nb: [x, yes, on, 0x1F, 012, 1.0, ~]\nc: 2020-01-01" | toJson }} {{ fromYaml "- 1" | toJson }} {{ fromYamlArray "- a\n- 1" | toJson }} {{ fromYamlArray "a: 1" | toJson }}"#,
        Ok(
            r#"{"a":1,"b":["x",true,true,31,10,1,null],"c":"2020-01-01"} {"Error":"error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go value of type map[string]interface {}"} ["a",1] ["error unmarshaling JSON: while decoding JSON: json: cannot unmarshal object into Go value of type []interface {}"]"#,
        ),
    ),
    (
        r#"{{ typeOf (fromYaml "a: 1").a }} {{ typeOf (fromJson "{}") }} {{ fromYaml "" | toJson }} {{ fromYamlArray "" | toJson }}"#,
        Ok(r#"float64 map[string]interface {} {} []"#),
    ),
    (
        r#"{{ fromYaml "a: {b: [1, {c: d}]}\ne: \"x\"\nf: 'y'\ng: |\n  line\n" | toJson }}"#,
        Ok(r#"{"a":{"b":[1,{"c":"d"}]},"e":"x","f":"y","g":"line\n"}"#),
    ),
    (
        r#"{{ toToml (dict "a" 1 "b" "x\"y\n" "c" (list 1 2) "d" (dict "e" true "f" (dict "g" 1.5)) "h" (list (dict "i" 1) (dict "j" 2)) "k" 1e6 "l" nil "m" (list) "n key" 3 "o" (dict) "p" (list "a" (list 1)) "q" 0.1) }}"#,
        Ok(r#"a = 1
b = "x\"y\n"
c = [1, 2]
k = 1e+06
m = []
"n key" = 3
p = ["a", [1]]
q = 0.1

[d]
  e = true
  [d.f]
    g = 1.5

[[h]]
  i = 1

[[h]]
  j = 2

[o]
"#),
    ),
    (
        r#"{{ toToml "x" }}|{{ toToml (list 1) }}|{{ toToml 3 }}|{{ toToml (dict "a" (list nil)) }}|{{ toToml (dict "i" (dict "x" (dict "y" 1)) "t" (list (dict "a" (dict "b" 1)))) }}"#,
        Ok(r#""x"|[1]|3|toml: cannot encode array with nil element|[i]
  [i.x]
    y = 1

[[t]]
  [t.a]
    b = 1
"#),
    ),
    (
        r#"{{ fromToml "a = 1\nb = 'x'\n[c]\nd = 1.5\nf = [1, 'a']\n[[g]]\nh = true" | toJson }}"#,
        Ok(r#"{"a":1,"b":"x","c":{"d":1.5,"f":[1,"a"]},"g":[{"h":true}]}"#),
    ),
    (
        r#"{{ typeOf (fromToml "a = 1").a }} {{ typeOf (fromToml "a = [1]").a }} {{ typeOf (fromToml "[a]").a }}"#,
        Ok(r#"int64 []interface {} map[string]interface {}"#),
    ),
    (
        r#"{{ required "need x" .Values.missing }}"#,
        Err(
            r#"template: t:1:3: executing "t" at <required "need x" .Values.missing>: error calling required: HELM_ERR_STARTneed xHELM_ERR_END"#,
        ),
    ),
    (
        r#"{{ required "need y" "" }}"#,
        Err(
            r#"template: t:1:3: executing "t" at <required "need y" "">: error calling required: HELM_ERR_STARTneed yHELM_ERR_END"#,
        ),
    ),
    (
        r#"{{ required "fine" .Values.replicas }}|{{ required "zero ok" 0 }}|{{ required "list" (list) }}"#,
        Ok(r#"3|0|[]"#),
    ),
    (
        r#"{{ fail "stop here" }}"#,
        Err(
            r#"template: t:1:3: executing "t" at <fail "stop here">: error calling fail: HELM_ERR_STARTstop hereHELM_ERR_END"#,
        ),
    ),
    (
        r#"{{ lookup "v1" "Pod" "ns" "name" }}|{{ lookup "v1" "Pod" "" "" | len }}|{{ getHostByName "example.com" }}|"#,
        Ok(r#"map[]|0||"#),
    ),
    (
        r#"{{ $d := dict "a" (dict "b" 1) }}{{ $m := merge (dict "a" (dict "c" 2)) $d }}{{ toJson $m }} {{ $_ := set $m.a "z" 9 }}{{ toJson $d }}"#,
        Ok(r#"{"a":{"b":1,"c":2}} {"a":{"b":1}}"#),
    ),
    (
        r#"{{ $v := .Values }}{{ $x := mergeOverwrite (dict) $v.resources (dict "limits" (dict "cpu" "1")) }}{{ toJson $x }} {{ toJson .Values.resources }}"#,
        Ok(
            r#"{"limits":{"cpu":"1","memory":"128Mi"},"requests":{"cpu":"100m"}} {"limits":{"cpu":"1","memory":"128Mi"},"requests":{"cpu":"100m"}}"#,
        ),
    ),
    (
        r#"{{ typeOf .Values }} {{ typeOf .Values.replicas }} {{ kindOf .Values.resources }} {{ typeOf .Values.list }}"#,
        Ok(r#"map[string]interface {} float64 map []interface {}"#),
    ),
    (
        r#"{{ toYaml (dict "a" (list "x" (dict "b" (list (dict "c" 1))))) }}"#,
        Ok(r#"a:
- x
- b:
  - c: 1"#),
    ),
    (
        r#"{{ toYaml (dict "r" "a\n\n" "s" 1) | quote }}"#,
        Ok(r#""r: |+\n  a\n\ns: 1""#),
    ),
    (
        r#"{{ toYaml (dict "r" "a\n" "s" 1) | quote }}"#,
        Ok(r#""r: |\n  a\ns: 1""#),
    ),
    (
        r#"{{ toYaml (dict "r" "\n" "s" 1) | quote }}"#,
        Ok(r#""r: |2+\n\ns: 1""#),
    ),
    (
        r#"{{ toYaml (list "a\n\n" "b") | quote }}"#,
        Ok(r#""- |+\n  a\n\n- b""#),
    ),
    (r#"{{ toYaml "a\n\n" | quote }}"#, Ok(r#""|+\n  a\n""#)),
    (
        r#"{{ toYaml (dict "r" "a\n\n\n") | quote }}"#,
        Ok(r#""r: |+\n  a\n\n""#),
    ),
];

fn render(template: &str) -> Result<String, String> {
    let mut funcs = Funcs::new();
    capstan_gotemplate::sprig::register(&mut funcs);
    let options = Options {
        missing_key: MissingKey::Zero,
        ..Options::default()
    };
    let mut set = Templates::with_options(Arc::new(funcs), options);
    set.parse("t", template).map_err(|e| e.to_string())?;
    let values: serde_json::Value = serde_json::from_str(VALUES).expect("VALUES is JSON");
    let data = Value::from_json(&serde_json::json!({ "Values": values }));
    set.render("t", &data).map_err(|e| e.to_string())
}

#[test]
fn helm_functions_match_go() {
    let mut failures = Vec::new();
    for (template, expected) in CASES {
        let got = render(template);
        let matches = match (expected, &got) {
            (Ok(want), Ok(out)) => want == out,
            (Err(want), Err(error)) => want == error,
            _ => false,
        };
        if !matches {
            failures.push(format!(
                "{template}\n  expected: {expected:?}\n  got:      {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from Go:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}
