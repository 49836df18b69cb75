//! Sprig's key and certificate functions: `genPrivateKey`, `buildCustomCert`, `genCA`,
//! `genCAWithKey`, `genSelfSignedCert`, `genSelfSignedCertWithKey`, `genSignedCert`,
//! `genSignedCertWithKey`.
//!
//! Generating RSA keys and signing certificates while rendering is expensive and rare in charts
//! (its output changes on every render anyway), so these functions are registered, keeping
//! templates that name them parseable, but fail with an explanation when called.

use super::types::{int, list, string};
use super::{Outcome, define};
use crate::funcs::{FuncError, Funcs, Signature};
use crate::value::Type;

/// Sprig's `certificate` struct as `%T` names it.
const CERTIFICATE_TYPE: &str = "sprig.certificate";

pub(super) fn register(funcs: &mut Funcs) {
    let certificate = || Type::Named(CERTIFICATE_TYPE.into());
    let signatures: [(&str, Signature); 8] = [
        ("genPrivateKey", Signature::new([string()])),
        ("buildCustomCert", Signature::new([string(), string()])),
        ("genCA", Signature::new([string(), int()])),
        ("genCAWithKey", Signature::new([string(), int(), string()])),
        (
            "genSelfSignedCert",
            Signature::new([string(), list(), list(), int()]),
        ),
        (
            "genSelfSignedCertWithKey",
            Signature::new([string(), list(), list(), int(), string()]),
        ),
        (
            "genSignedCert",
            Signature::new([string(), list(), list(), int(), certificate()]),
        ),
        (
            "genSignedCertWithKey",
            Signature::new([string(), list(), list(), int(), certificate(), string()]),
        ),
    ];
    for (name, signature) in signatures {
        define(funcs, &[name], signature, move |_, _| unsupported(name));
    }
}

fn unsupported(name: &str) -> Outcome {
    Err(FuncError::new(format!(
        "{name} is not supported here: keys and certificates are not generated while rendering; create the Secret outside the chart (for example with cert-manager) and reference it from the values"
    )))
}
