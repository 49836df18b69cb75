//! Sprig's arithmetic. The integer functions convert every argument with `cast.ToInt64` and
//! return `int64`, wrapping on overflow like Go; the `...f` functions go through
//! `shopspring/decimal` (exact decimal arithmetic on each float's shortest representation, so
//! `addf 0.1 0.2` is `0.3`) and return `float64`.

use super::convert::{to_float64, to_int64};
use super::types::{any, int};
use super::{Outcome, arg, define, int_arg};
use crate::funcs::{FuncError, Funcs, Signature};
use crate::value::{FloatKind, Type, Value};
use num_bigint::{BigInt, Sign};
use rand::Rng;

pub(super) fn register(funcs: &mut Funcs) {
    register_integer(funcs);
    register_decimal(funcs);
    register_float(funcs);
}

const DIVIDE_BY_ZERO: &str = "runtime error: integer divide by zero";

fn register_integer(funcs: &mut Funcs) {
    define(funcs, &["add1"], Signature::new([any()]), |_, args| {
        Ok(Value::int64(to_int64(&arg(args, 0)).wrapping_add(1)))
    });
    define(
        funcs,
        &["add"],
        Signature::variadic([], any()),
        |_, args| {
            let sum = args.iter().fold(0i64, |a, b| a.wrapping_add(to_int64(b)));
            Ok(Value::int64(sum))
        },
    );
    define(
        funcs,
        &["sub"],
        Signature::new([any(), any()]),
        |_, args| {
            let (a, b) = (to_int64(&arg(args, 0)), to_int64(&arg(args, 1)));
            Ok(Value::int64(a.wrapping_sub(b)))
        },
    );
    define(
        funcs,
        &["div"],
        Signature::new([any(), any()]),
        |_, args| {
            let (a, b) = (to_int64(&arg(args, 0)), to_int64(&arg(args, 1)));
            if b == 0 {
                return Err(FuncError::new(DIVIDE_BY_ZERO));
            }
            Ok(Value::int64(a.wrapping_div(b)))
        },
    );
    define(
        funcs,
        &["mod"],
        Signature::new([any(), any()]),
        |_, args| {
            let (a, b) = (to_int64(&arg(args, 0)), to_int64(&arg(args, 1)));
            if b == 0 {
                return Err(FuncError::new(DIVIDE_BY_ZERO));
            }
            Ok(Value::int64(a.wrapping_rem(b)))
        },
    );
    define(
        funcs,
        &["mul"],
        Signature::variadic([any()], any()),
        |_, args| {
            let product = args[1..]
                .iter()
                .fold(to_int64(&arg(args, 0)), |a, b| a.wrapping_mul(to_int64(b)));
            Ok(Value::int64(product))
        },
    );
    define(
        funcs,
        &["max", "biggest"],
        Signature::variadic([any()], any()),
        |_, args| {
            let values = args.iter().map(to_int64);
            Ok(Value::int64(values.max().unwrap_or(0)))
        },
    );
    define(
        funcs,
        &["min"],
        Signature::variadic([any()], any()),
        |_, args| Ok(Value::int64(args.iter().map(to_int64).min().unwrap_or(0))),
    );
    define(
        funcs,
        &["randInt"],
        Signature::new([int(), int()]),
        |_, args| {
            let (min, max) = (int_arg(args, 0), int_arg(args, 1));
            let span = max.wrapping_sub(min);
            if span <= 0 {
                return Err(FuncError::new("invalid argument to Intn"));
            }
            Ok(Value::int(rand::thread_rng().gen_range(0..span) + min))
        },
    );
}

fn register_decimal(funcs: &mut Funcs) {
    define(funcs, &["add1f"], Signature::new([any()]), |_, args| {
        decimal_fold(&arg(args, 0), &[Value::int(1)], Decimal::add)
    });
    define(
        funcs,
        &["addf"],
        Signature::variadic([], any()),
        |_, args| decimal_fold(&Value::float(0.0), args, Decimal::add),
    );
    define(
        funcs,
        &["subf"],
        Signature::variadic([any()], any()),
        |_, args| decimal_fold(&arg(args, 0), &args[1..], Decimal::sub),
    );
    define(
        funcs,
        &["mulf"],
        Signature::variadic([any()], any()),
        |_, args| decimal_fold(&arg(args, 0), &args[1..], Decimal::mul),
    );
    define(
        funcs,
        &["divf"],
        Signature::variadic([any()], any()),
        |_, args| decimal_fold(&arg(args, 0), &args[1..], Decimal::div),
    );
}

fn register_float(funcs: &mut Funcs) {
    define(
        funcs,
        &["maxf"],
        Signature::variadic([any()], any()),
        |_, args| {
            let result = args[1..]
                .iter()
                .fold(to_float64(&arg(args, 0)), |a, b| go_max(a, to_float64(b)));
            Ok(Value::float(result))
        },
    );
    define(
        funcs,
        &["minf"],
        Signature::variadic([any()], any()),
        |_, args| {
            let result = args[1..]
                .iter()
                .fold(to_float64(&arg(args, 0)), |a, b| go_min(a, to_float64(b)));
            Ok(Value::float(result))
        },
    );
    define(funcs, &["floor"], Signature::new([any()]), |_, args| {
        Ok(Value::float(to_float64(&arg(args, 0)).floor()))
    });
    define(funcs, &["ceil"], Signature::new([any()]), |_, args| {
        Ok(Value::float(to_float64(&arg(args, 0)).ceil()))
    });
    define(
        funcs,
        &["round"],
        Signature::variadic([any(), int()], Type::Float(FloatKind::Float64)),
        |_, args| {
            let round_on = args.get(2).and_then(Value::as_f64).unwrap_or(0.5);
            Ok(Value::float(round(
                to_float64(&arg(args, 0)),
                int_arg(args, 1),
                round_on,
            )))
        },
    );
}

/// Sprig's `round(value, places, roundOn)`: scales by `10^places`, rounds up when the fraction
/// reaches `roundOn`, and scales back, with Go's `math.Pow` so the last bit matches.
fn round(value: f64, places: i64, round_on: f64) -> f64 {
    let pow = go_pow10(places as f64);
    let digit = pow * value;
    let fraction = digit - digit.trunc();
    let rounded = if fraction >= round_on {
        digit.ceil()
    } else {
        digit.floor()
    };
    rounded / pow
}

/// Go's `math.Pow(10, y)` for an integral `y`: repeated squaring on the mantissa with the
/// binary exponent kept apart, then one `Ldexp`.
fn go_pow10(y: f64) -> f64 {
    if y == 0.0 {
        return 1.0;
    }
    if y == 1.0 {
        return 10.0;
    }
    if y.is_nan() {
        return f64::NAN;
    }
    if y.is_infinite() {
        return if y > 0.0 { f64::INFINITY } else { 0.0 };
    }
    let yi = y.abs().trunc();
    if yi >= 9.223_372_036_854_776e18 {
        return if y > 0.0 { f64::INFINITY } else { 0.0 };
    }
    let (mut x1, mut xe) = frexp(10.0);
    let mut a1 = 1.0f64;
    let mut ae: i64 = 0;
    let mut i = yi as i64;
    while i != 0 {
        if !(-(1 << 12)..=(1 << 12)).contains(&xe) {
            ae += xe;
            break;
        }
        if i & 1 == 1 {
            a1 *= x1;
            ae += xe;
        }
        x1 *= x1;
        xe <<= 1;
        if x1 < 0.5 {
            x1 += x1;
            xe -= 1;
        }
        i >>= 1;
    }
    if y < 0.0 {
        a1 = 1.0 / a1;
        ae = -ae;
    }
    ldexp(a1, ae)
}

/// Go's `math.Frexp` for finite non-zero normal values: mantissa in [0.5, 1) and exponent.
fn frexp(x: f64) -> (f64, i64) {
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64 - 1022;
    let mantissa = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (mantissa, exponent)
}

/// Go's `math.Ldexp`: `frac × 2^exp` with a single rounding.
fn ldexp(frac: f64, exp: i64) -> f64 {
    if frac == 0.0 || !frac.is_finite() {
        return frac;
    }
    let (mantissa, e) = frexp(frac);
    let exp = exp + e;
    if exp > 1024 {
        return f64::INFINITY.copysign(frac);
    }
    if exp < -1075 {
        return 0.0f64.copysign(frac);
    }
    if exp >= -1021 {
        // Normal result: exact.
        return mantissa * 2f64.powi(exp as i32);
    }
    // Subnormal: scale into range in two steps, the second one rounding once.
    let scaled = mantissa * 2f64.powi(53);
    scaled * 2f64.powi((exp - 53) as i32)
}

/// Go's `math.Max`.
fn go_max(x: f64, y: f64) -> f64 {
    if x == f64::INFINITY || y == f64::INFINITY {
        return f64::INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && x == y {
        return if x.is_sign_negative() { y } else { x };
    }
    if x > y { x } else { y }
}

/// Go's `math.Min`.
fn go_min(x: f64, y: f64) -> f64 {
    if x == f64::NEG_INFINITY || y == f64::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && x == y {
        return if x.is_sign_negative() { x } else { y };
    }
    if x < y { x } else { y }
}

/// Sprig's `execDecimalOp`: every operand through `cast.ToFloat64` and `decimal.NewFromFloat`,
/// folded with `op`, and the result back to the nearest `float64`.
fn decimal_fold(
    first: &Value,
    rest: &[Value],
    op: fn(Decimal, Decimal) -> Result<Decimal, FuncError>,
) -> Outcome {
    let mut accumulator = Decimal::from_float(to_float64(first))?;
    for operand in rest {
        accumulator = op(accumulator, Decimal::from_float(to_float64(operand))?)?;
    }
    Ok(Value::float(accumulator.to_float()))
}

/// `shopspring/decimal`'s `Decimal`: `value × 10^exp`, exactly.
#[derive(Clone, Debug)]
struct Decimal {
    value: BigInt,
    exp: i64,
}

/// Digits after the point that `Decimal.Div` keeps (`decimal.DivisionPrecision`).
const DIVISION_PRECISION: i64 = 16;

/// Exponents this far apart would need huge numbers to align; shopspring panics beyond the
/// `int32` range, which floats never reach, so this is a safety net only.
const MAX_EXPONENT_GAP: i64 = 2_000;

impl Decimal {
    /// `decimal.NewFromFloat`: the shortest decimal that reads back as `f`.
    fn from_float(f: f64) -> Result<Decimal, FuncError> {
        if !f.is_finite() {
            let shown = if f.is_nan() {
                "NaN"
            } else if f > 0.0 {
                "+Inf"
            } else {
                "-Inf"
            };
            return Err(FuncError::new(format!(
                "Cannot create a Decimal from {shown}"
            )));
        }
        if f == 0.0 {
            return Ok(Decimal {
                value: BigInt::from(0),
                exp: 0,
            });
        }
        let scientific = format!("{f:e}");
        let (mantissa, exponent) = scientific
            .split_once('e')
            .unwrap_or((scientific.as_str(), "0"));
        let exponent: i64 = exponent.parse().unwrap_or(0);
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits = format!("{whole}{fraction}");
        let value = digits.parse::<BigInt>().unwrap_or_default();
        Ok(Decimal {
            value,
            exp: exponent - fraction.len() as i64,
        })
    }

    fn scaled_to(&self, exp: i64) -> BigInt {
        &self.value * BigInt::from(10).pow((self.exp - exp) as u32)
    }

    fn aligned(a: &Decimal, b: &Decimal) -> Result<(BigInt, BigInt, i64), FuncError> {
        if (a.exp - b.exp).abs() > MAX_EXPONENT_GAP {
            return Err(FuncError::new("overflow in decimal arithmetic"));
        }
        let exp = a.exp.min(b.exp);
        Ok((a.scaled_to(exp), b.scaled_to(exp), exp))
    }

    fn add(a: Decimal, b: Decimal) -> Result<Decimal, FuncError> {
        let (x, y, exp) = Decimal::aligned(&a, &b)?;
        Ok(Decimal { value: x + y, exp })
    }

    fn sub(a: Decimal, b: Decimal) -> Result<Decimal, FuncError> {
        let (x, y, exp) = Decimal::aligned(&a, &b)?;
        Ok(Decimal { value: x - y, exp })
    }

    fn mul(a: Decimal, b: Decimal) -> Result<Decimal, FuncError> {
        Ok(Decimal {
            value: a.value * b.value,
            exp: a.exp + b.exp,
        })
    }

    /// `Decimal.Div`: `DivRound(d2, 16)`, the quotient truncated to 16 decimals and then
    /// rounded half away from zero.
    fn div(a: Decimal, b: Decimal) -> Result<Decimal, FuncError> {
        if b.value.sign() == Sign::NoSign {
            return Err(FuncError::new("decimal division by 0"));
        }
        let scale = -DIVISION_PRECISION;
        let e = a.exp - b.exp - scale;
        if e.abs() > MAX_EXPONENT_GAP {
            return Err(FuncError::new("overflow in decimal QuoRem"));
        }
        let ten = BigInt::from(10);
        let (numerator, denominator) = if e < 0 {
            (a.value.clone(), &b.value * ten.pow((-e) as u32))
        } else {
            (&a.value * ten.pow(e as u32), b.value.clone())
        };
        let quotient = &numerator / &denominator;
        let remainder = &numerator % &denominator;
        // Round when 2|r| ≥ |denominator| (both at the same scale here).
        let twice = remainder.magnitude() * 2u32;
        let mut value = quotient;
        if twice >= *denominator.magnitude() {
            let negative = (a.value.sign() == Sign::Minus) != (b.value.sign() == Sign::Minus);
            value += if negative { -1 } else { 1 };
        }
        Ok(Decimal { value, exp: scale })
    }

    /// `Decimal.Float64`: the nearest `float64`.
    fn to_float(&self) -> f64 {
        format!("{}e{}", self.value, self.exp)
            .parse::<f64>()
            .unwrap_or(f64::NAN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values printed by Go 1.26 with shopspring/decimal v1.4.0 through Sprig.

    fn fold(values: &[f64], op: fn(Decimal, Decimal) -> Result<Decimal, FuncError>) -> f64 {
        let mut acc = Decimal::from_float(values[0]).unwrap();
        for v in &values[1..] {
            acc = op(acc, Decimal::from_float(*v).unwrap()).unwrap();
        }
        acc.to_float()
    }

    #[test]
    fn decimal_arithmetic_matches_shopspring() {
        assert_eq!(fold(&[0.1, 0.2], Decimal::add), 0.3);
        assert_eq!(fold(&[1.0, 3.0], Decimal::div), 0.3333333333333333);
        assert_eq!(fold(&[2.0, 3.0], Decimal::div), 0.6666666666666667);
        assert_eq!(fold(&[-2.0, 3.0], Decimal::div), -0.6666666666666667);
        assert_eq!(fold(&[1.1, 3.3], Decimal::mul), 3.63);
        assert_eq!(fold(&[1e300, 1e-300], Decimal::add), 1e300);
    }

    #[test]
    fn round_matches_sprig() {
        assert_eq!(round(123.5555, 3, 0.5), 123.556);
        assert_eq!(round(-2.5, 0, 0.5), -3.0);
        assert_eq!(round(2.5, 0, 0.6), 2.0);
        assert_eq!(round(1.005, 2, 0.5), 1.0);
        assert_eq!(go_pow10(-3.0), 0.001);
    }
}
