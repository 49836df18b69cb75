//! Random templates, built from the language's tokens and from arbitrary characters, must parse
//! or fail cleanly and then execute or fail cleanly: never panic, hang or overflow the stack.
//! (A deterministic generator keeps failures reproducible without a fuzzing toolchain.)

use std::collections::BTreeMap;
use std::sync::Arc;

use capstan_gotemplate::{
    Budget, Funcs, Limits, MissingKey, Options, Signature, Templates, Type, Value,
};

/// xorshift64*: small, deterministic, good enough to mix tokens.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "{{",
    "}}",
    "{{- ",
    " -}}",
    "{{/*",
    "*/}}",
    " ",
    "\n",
    "\t",
    "if ",
    "else ",
    "end",
    "range ",
    "with ",
    "define ",
    "template ",
    "block ",
    "break",
    "continue",
    "\"a\"",
    "\"b\"",
    "`raw`",
    "'x'",
    ".",
    ".a",
    ".b.c",
    ".l",
    ".m",
    "$",
    "$x",
    "$y",
    ":=",
    "=",
    ",",
    "|",
    "(",
    ")",
    "1",
    "0",
    "-1",
    "2.5",
    "1e3",
    "0x1F",
    "1i",
    "nil",
    "true",
    "false",
    "printf ",
    "\"%v %d %s\"",
    "len ",
    "index ",
    "slice ",
    "eq ",
    "ne ",
    "lt ",
    "and ",
    "or ",
    "not ",
    "print ",
    "html ",
    "js ",
    "urlquery ",
    "call ",
    "f ",
    "g ",
    "x",
    "é",
    "日",
    "}",
    "{",
    "-",
    "\\",
    "\"",
    "'",
    "`",
    "%",
];

fn funcs() -> Funcs {
    let mut funcs = Funcs::new();
    funcs.register("f", Signature::new([Type::String]), |_, args| {
        Ok(args[0].clone())
    });
    funcs.register(
        "g",
        Signature::variadic([Type::int()], Type::Interface),
        |ctx, args| {
            let name = if args.len() % 2 == 0 { "a" } else { "b" };
            Ok(Value::string(
                ctx.execute_template(name, Value::Nil).unwrap_or_default(),
            ))
        },
    );
    funcs
}

fn data() -> Value {
    Value::from_json(&serde_json::json!({
        "a": "text", "b": {"c": 1.5}, "l": [1, "two", null, {"k": [true]}], "m": {"x": null, "y": []}
    }))
}

fn exercise(set_funcs: &Arc<Funcs>, text: &str, missing_key: MissingKey) {
    let options = Options {
        missing_key,
        ..Options::default()
    };
    let mut set = Templates::with_options(set_funcs.clone(), options);
    if set.parse("main", text).is_err() {
        return;
    }
    let limits = Limits {
        fuel: 20_000,
        max_output: 10_000,
        max_depth: 30,
        max_range_iterations: 1_000,
    };
    let names: Vec<String> = set.names().map(str::to_string).collect();
    for name in names {
        let _ = set.execute(&name, &data(), &mut Budget::new(limits));
    }
}

#[test]
fn token_soup_never_panics() {
    let funcs = Arc::new(funcs());
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    for i in 0..30_000 {
        let len = 1 + rng.below(40);
        let text: String = (0..len).map(|_| TOKENS[rng.below(TOKENS.len())]).collect();
        let missing_key = [MissingKey::Default, MissingKey::Zero, MissingKey::Error][i % 3];
        exercise(&funcs, &text, missing_key);
    }
}

#[test]
fn arbitrary_characters_never_panic() {
    let funcs = Arc::new(funcs());
    let mut rng = Rng(0xC0FF_EE00_1234_5678);
    let alphabet: Vec<char> =
        "{}-/* \n\t.$:=,|()\"'`\\0123456789abcdefxXpPeEi+_é日\u{0}\u{7f}\u{2028}"
            .chars()
            .collect();
    for _ in 0..30_000 {
        let len = 1 + rng.below(60);
        let text: String = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        exercise(&funcs, &text, MissingKey::Default);
    }
}

#[test]
fn printf_with_random_formats_never_panics() {
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    let pieces = [
        "%", "d", "s", "v", "q", "x", "X", "f", "e", "g", "T", "c", "U", "b", "o", "t", "p", "*",
        ".", "-", "+", "#", " ", "0", "9", "[", "]", "1", "2", "é", "%%",
    ];
    let args = [
        Value::int(-42),
        Value::float(-0.0),
        Value::float(f64::NAN),
        Value::float(1e300),
        Value::string("s\u{0}é"),
        Value::Nil,
        Value::list(vec![Value::Nil, Value::Bool(true)]),
        Value::map(BTreeMap::from([(
            "k".to_string(),
            Value::bytes(vec![0u8, 255]),
        )])),
        Value::Uint(u64::MAX, capstan_gotemplate::UintKind::Uint64),
    ];
    for _ in 0..50_000 {
        let format: String = (0..1 + rng.below(12))
            .map(|_| pieces[rng.below(pieces.len())])
            .collect();
        let n = rng.below(4);
        let chosen: Vec<Value> = (0..n)
            .map(|_| args[rng.below(args.len())].clone())
            .collect();
        let out = capstan_gotemplate::fmt::sprintf_limited(&format, &chosen, 1 << 20);
        assert!(out.is_ok(), "{format:?} {chosen:?}");
    }
}
