//! Sprig's key and certificate functions: `genPrivateKey`, `buildCustomCert`, `genCA`,
//! `genCAWithKey`, `genSelfSignedCert`, `genSelfSignedCertWithKey`, `genSignedCert`,
//! `genSignedCertWithKey`.
//!
//! Keys are made and written as Go's `crypto` and `crypto/x509` make them (RSA 4096 for
//! `genPrivateKey`, RSA 2048 for certificates, ECDSA P-256, Ed25519, DSA 2048/256; PKCS#1, SEC 1
//! and PKCS#8 PEM blocks), and certificates carry what Sprig's template and Go's
//! `CreateCertificate` put in them: a random 128-bit serial, the common name, the IP and DNS
//! alternative names, validity from now for the given days, digital-signature and
//! key-encipherment usage (plus certificate signing for a CA), server and client
//! authentication, basic constraints, and the subject and authority key identifiers (truncated
//! SHA-256). Keys and certificates are random, so only their shape can match Go's.
//!
//! Key generation is expensive and charged to the budget accordingly.

use super::der::{self, Element};
use super::encoding::base64_decode;
use super::gotime::GoTime;
use super::types::{int, list, string};
use super::{Outcome, arg, define, int_arg, str_arg};
use crate::funcs::{CallContext, FuncError, Funcs, Signature};
use crate::value::{Object, Type, Value};
use rand::RngCore;
use sha2::Digest;
use std::any::Any;
use std::borrow::Cow;

/// Sprig's `certificate` struct as `%T` names it.
const CERTIFICATE_TYPE: &str = "sprig.certificate";

/// Fuel for making an RSA key of 2048 bits (tens to hundreds of milliseconds of work).
const RSA_2048_FUEL: u64 = 20_000_000;
/// Fuel for making an RSA key of 4096 bits.
const RSA_4096_FUEL: u64 = 100_000_000;
/// Fuel for making DSA parameters and a key (seconds of work in Go too).
const DSA_FUEL: u64 = 150_000_000;
/// Fuel for a cheap key or one signature.
const SMALL_FUEL: u64 = 200_000;

pub(super) fn register(funcs: &mut Funcs) {
    let certificate = || Type::Named(CERTIFICATE_TYPE.into());
    define(
        funcs,
        &["genPrivateKey"],
        Signature::new([string()]),
        |ctx, args| Ok(Value::string(generate_private_key(ctx, str_arg(args, 0))?)),
    );
    define(
        funcs,
        &["buildCustomCert"],
        Signature::new([string(), string()]),
        |_, args| build_custom_certificate(str_arg(args, 0), str_arg(args, 1)),
    );
    define(
        funcs,
        &["genCA"],
        Signature::new([string(), int()]),
        |ctx, args| {
            let key = new_rsa_key(ctx, 2048)?;
            certificate_authority(ctx, str_arg(args, 0), int_arg(args, 1), key)
        },
    );
    define(
        funcs,
        &["genCAWithKey"],
        Signature::new([string(), int(), string()]),
        |ctx, args| {
            let key = parse_private_key_pem(str_arg(args, 2))
                .map_err(|e| FuncError::new(format!("parsing private key: {e}")))?;
            certificate_authority(ctx, str_arg(args, 0), int_arg(args, 1), key)
        },
    );
    define(
        funcs,
        &["genSelfSignedCert"],
        Signature::new([string(), list(), list(), int()]),
        |ctx, args| {
            let key = new_rsa_key(ctx, 2048)?;
            self_signed(ctx, args, key)
        },
    );
    define(
        funcs,
        &["genSelfSignedCertWithKey"],
        Signature::new([string(), list(), list(), int(), string()]),
        |ctx, args| {
            let key = parse_private_key_pem(str_arg(args, 4))
                .map_err(|e| FuncError::new(format!("parsing private key: {e}")))?;
            self_signed(ctx, args, key)
        },
    );
    define(
        funcs,
        &["genSignedCert"],
        Signature::new([string(), list(), list(), int(), certificate()]),
        |ctx, args| {
            let key = new_rsa_key(ctx, 2048)?;
            signed(ctx, args, key)
        },
    );
    define(
        funcs,
        &["genSignedCertWithKey"],
        Signature::new([string(), list(), list(), int(), certificate(), string()]),
        |ctx, args| {
            let key = parse_private_key_pem(str_arg(args, 5))
                .map_err(|e| FuncError::new(format!("parsing private key: {e}")))?;
            signed(ctx, args, key)
        },
    );
}

/// A private key of a kind Sprig makes or reads.
enum PrivateKey {
    Rsa(Box<rsa::RsaPrivateKey>),
    Ecdsa(p256::SecretKey),
    Ed25519(ed25519_dalek::SigningKey),
    /// DSA keys can be made and read but, as in Go, sign no certificate.
    Dsa(Box<dsa::SigningKey>),
}

fn new_rsa_key(ctx: &mut CallContext<'_, '_>, bits: usize) -> Result<PrivateKey, FuncError> {
    ctx.charge(if bits > 2048 {
        RSA_4096_FUEL
    } else {
        RSA_2048_FUEL
    })?;
    rsa::RsaPrivateKey::new(&mut rand::thread_rng(), bits)
        .map(|key| PrivateKey::Rsa(Box::new(key)))
        .map_err(|e| FuncError::new(format!("error generating rsa key: {e}")))
}

/// Sprig's `genPrivateKey`: a PEM key of the named type, or (as Sprig returns them) the text of
/// a failure.
fn generate_private_key(ctx: &mut CallContext<'_, '_>, kind: &str) -> Result<String, FuncError> {
    let key = match kind {
        "" | "rsa" => new_rsa_key(ctx, 4096)?,
        "dsa" => {
            ctx.charge(DSA_FUEL)?;
            let mut rng = rand::thread_rng();
            let components = dsa::Components::generate(&mut rng, dsa::KeySize::DSA_2048_256);
            PrivateKey::Dsa(Box::new(dsa::SigningKey::generate(&mut rng, components)))
        }
        "ecdsa" => {
            ctx.charge(SMALL_FUEL)?;
            PrivateKey::Ecdsa(p256::SecretKey::random(&mut rand::thread_rng()))
        }
        "ed25519" => {
            ctx.charge(SMALL_FUEL)?;
            let mut seed = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut seed);
            PrivateKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed))
        }
        other => return Ok(format!("Unknown type {other}")),
    };
    Ok(key.to_pem())
}

const OID_RSA: &[u64] = &[1, 2, 840, 113549, 1, 1, 1];
const OID_SHA256_WITH_RSA: &[u64] = &[1, 2, 840, 113549, 1, 1, 11];
const OID_EC_PUBLIC_KEY: &[u64] = &[1, 2, 840, 10045, 2, 1];
const OID_P256: &[u64] = &[1, 2, 840, 10045, 3, 1, 7];
const OID_ECDSA_WITH_SHA256: &[u64] = &[1, 2, 840, 10045, 4, 3, 2];
const OID_ED25519: &[u64] = &[1, 3, 101, 112];

impl PrivateKey {
    /// The PEM block Sprig's `pemBlockForKey` writes.
    fn to_pem(&self) -> String {
        match self {
            PrivateKey::Rsa(key) => der::pem_encode("RSA PRIVATE KEY", &rsa_private_der(key)),
            PrivateKey::Ecdsa(key) => der::pem_encode("EC PRIVATE KEY", &ec_private_der(key)),
            PrivateKey::Ed25519(key) => {
                // PKCS#8 v1 without the public key, as Go's MarshalPKCS8PrivateKey writes it.
                let body = der::sequence(&[
                    der::small_integer(0),
                    der::sequence(&[der::oid(OID_ED25519)]),
                    der::octet_string(&der::octet_string(&key.to_bytes())),
                ]);
                der::pem_encode("PRIVATE KEY", &body)
            }
            PrivateKey::Dsa(key) => {
                let components = key.verifying_key().components();
                let body = der::sequence(&[
                    der::small_integer(0),
                    der::unsigned_integer(&components.p().to_bytes_be()),
                    der::unsigned_integer(&components.q().to_bytes_be()),
                    der::unsigned_integer(&components.g().to_bytes_be()),
                    der::unsigned_integer(&key.verifying_key().y().to_bytes_be()),
                    der::unsigned_integer(&key.x().to_bytes_be()),
                ]);
                der::pem_encode("DSA PRIVATE KEY", &body)
            }
        }
    }

    /// The subject public key bytes (the BIT STRING content) and the whole SubjectPublicKeyInfo.
    fn public_key_info(&self) -> Result<(Vec<u8>, Vec<u8>), String> {
        let (algorithm, bytes) = match self {
            PrivateKey::Rsa(key) => {
                let public = key.to_public_key();
                let bytes = der::sequence(&[
                    der::unsigned_integer(&public_n(&public)),
                    der::unsigned_integer(&public_e(&public)),
                ]);
                (der::sequence(&[der::oid(OID_RSA), der::null()]), bytes)
            }
            PrivateKey::Ecdsa(key) => (
                der::sequence(&[der::oid(OID_EC_PUBLIC_KEY), der::oid(OID_P256)]),
                ec_point(key),
            ),
            PrivateKey::Ed25519(key) => (
                der::sequence(&[der::oid(OID_ED25519)]),
                key.verifying_key().to_bytes().to_vec(),
            ),
            PrivateKey::Dsa(_) => {
                return Err(
                    "x509: certificate private key does not implement crypto.Signer".to_string(),
                );
            }
        };
        let info = der::sequence(&[algorithm, der::bit_string(&bytes)]);
        Ok((bytes, info))
    }

    fn signature_algorithm(&self) -> Vec<u8> {
        match self {
            PrivateKey::Rsa(_) => der::sequence(&[der::oid(OID_SHA256_WITH_RSA), der::null()]),
            PrivateKey::Ecdsa(_) => der::sequence(&[der::oid(OID_ECDSA_WITH_SHA256)]),
            PrivateKey::Ed25519(_) | PrivateKey::Dsa(_) => der::sequence(&[der::oid(OID_ED25519)]),
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        use rsa::signature::{RandomizedSigner, SignatureEncoding};
        match self {
            PrivateKey::Rsa(key) => {
                let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new((**key).clone());
                Ok(signer
                    .sign_with_rng(&mut rand::thread_rng(), message)
                    .to_vec())
            }
            PrivateKey::Ecdsa(key) => {
                use p256::ecdsa::signature::Signer;
                let signer = p256::ecdsa::SigningKey::from(key);
                let signature: p256::ecdsa::Signature = signer.sign(message);
                Ok(signature.to_der().as_bytes().to_vec())
            }
            PrivateKey::Ed25519(key) => {
                use ed25519_dalek::Signer;
                Ok(key.sign(message).to_bytes().to_vec())
            }
            PrivateKey::Dsa(_) => {
                Err("x509: certificate private key does not implement crypto.Signer".to_string())
            }
        }
    }
}

fn public_n(key: &rsa::RsaPublicKey) -> Vec<u8> {
    use rsa::traits::PublicKeyParts;
    key.n().to_bytes_be()
}

fn public_e(key: &rsa::RsaPublicKey) -> Vec<u8> {
    use rsa::traits::PublicKeyParts;
    key.e().to_bytes_be()
}

/// PKCS#1 RSAPrivateKey, as Go's `MarshalPKCS1PrivateKey` writes it.
fn rsa_private_der(key: &rsa::RsaPrivateKey) -> Vec<u8> {
    use rsa::traits::{PrivateKeyParts, PublicKeyParts};
    let primes = key.primes();
    let precomputed = key.dp().zip(key.dq()).zip(key.crt_coefficient());
    let mut parts = vec![
        der::small_integer(0),
        der::unsigned_integer(&key.n().to_bytes_be()),
        der::unsigned_integer(&key.e().to_bytes_be()),
        der::unsigned_integer(&key.d().to_bytes_be()),
        der::unsigned_integer(&primes[0].to_bytes_be()),
        der::unsigned_integer(&primes[1].to_bytes_be()),
    ];
    if let Some(((dp, dq), qinv)) = precomputed {
        parts.push(der::unsigned_integer(&dp.to_bytes_be()));
        parts.push(der::unsigned_integer(&dq.to_bytes_be()));
        parts.push(der::unsigned_integer(&qinv.to_bytes_be()));
    }
    der::sequence(&parts)
}

/// The uncompressed public point `04 ‖ X ‖ Y`.
fn ec_point(key: &p256::SecretKey) -> Vec<u8> {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    key.public_key().to_encoded_point(false).as_bytes().to_vec()
}

/// SEC 1 ECPrivateKey with the curve and public key, as Go's `MarshalECPrivateKey` writes it.
fn ec_private_der(key: &p256::SecretKey) -> Vec<u8> {
    der::sequence(&[
        der::small_integer(1),
        der::octet_string(&key.to_bytes()),
        der::context(0, true, &der::oid(OID_P256)),
        der::context(1, true, &der::bit_string(&ec_point(key))),
    ])
}

/// Sprig's `parsePrivateKeyPEM`, with its error texts.
fn parse_private_key_pem(text: &str) -> Result<PrivateKey, String> {
    let Some((kind, bytes)) = der::pem_decode(text) else {
        return Err("no PEM data in input".to_string());
    };
    if kind == "PRIVATE KEY" {
        return parse_pkcs8(&bytes).map_err(|e| format!("decoding PEM as PKCS#8: {e}"));
    }
    let Some(algorithm) = kind.strip_suffix(" PRIVATE KEY") else {
        return Err(format!("no private key data in PEM block of type {kind}"));
    };
    match algorithm {
        "RSA" => parse_pkcs1(&bytes).map_err(|e| format!("parsing RSA private key from PEM: {e}")),
        "EC" => parse_sec1(&bytes).map_err(|e| format!("parsing EC private key from PEM: {e}")),
        "DSA" => parse_dsa(&bytes).map_err(|e| format!("parsing DSA private key from PEM: {e}")),
        _ => Err(format!("invalid private key type {kind}")),
    }
}

fn parse_pkcs1(bytes: &[u8]) -> Result<PrivateKey, String> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    rsa::RsaPrivateKey::from_pkcs1_der(bytes)
        .map(|key| PrivateKey::Rsa(Box::new(key)))
        .map_err(|_| "x509: failed to parse private key".to_string())
}

fn parse_sec1(bytes: &[u8]) -> Result<PrivateKey, String> {
    let malformed = || "x509: failed to parse EC private key".to_string();
    let (outer, _) = der::read(bytes).ok_or_else(malformed)?;
    let fields = der::children(outer.content).ok_or_else(malformed)?;
    let scalar = fields
        .get(1)
        .filter(|f| f.tag == der::TAG_OCTET_STRING)
        .ok_or_else(malformed)?;
    if let Some(curve) = fields.iter().find(|f| f.tag == 0xa0)
        && curve.content != der::oid(OID_P256).as_slice()
    {
        return Err("x509: unknown elliptic curve".to_string());
    }
    p256::SecretKey::from_slice(scalar.content)
        .map(PrivateKey::Ecdsa)
        .map_err(|_| malformed())
}

fn parse_pkcs8(bytes: &[u8]) -> Result<PrivateKey, String> {
    let malformed = || "x509: malformed PKCS#8 private key".to_string();
    let (outer, _) = der::read(bytes).ok_or_else(malformed)?;
    let fields = der::children(outer.content).ok_or_else(malformed)?;
    let (algorithm, key) = match fields.as_slice() {
        [_, algorithm, key, ..] => (algorithm, key),
        _ => return Err(malformed()),
    };
    let algorithm_fields = der::children(algorithm.content).ok_or_else(malformed)?;
    let oid = algorithm_fields
        .first()
        .map(|e| e.raw)
        .ok_or_else(malformed)?;
    if oid == der::oid(OID_RSA).as_slice() {
        return parse_pkcs1(key.content);
    }
    if oid == der::oid(OID_EC_PUBLIC_KEY).as_slice() {
        return parse_sec1(key.content);
    }
    if oid == der::oid(OID_ED25519).as_slice() {
        let (seed, _) = der::read(key.content).ok_or_else(malformed)?;
        let seed: [u8; 32] = seed
            .content
            .try_into()
            .map_err(|_| "x509: invalid Ed25519 private key length".to_string())?;
        return Ok(PrivateKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(
            &seed,
        )));
    }
    Err("x509: PKCS#8 wrapping contained private key with unknown algorithm".to_string())
}

fn parse_dsa(bytes: &[u8]) -> Result<PrivateKey, String> {
    let malformed = || "asn1: structure error".to_string();
    let (outer, _) = der::read(bytes).ok_or_else(malformed)?;
    let fields = der::children(outer.content).ok_or_else(malformed)?;
    let number = |i: usize| -> Result<dsa::BigUint, String> {
        fields
            .get(i)
            .map(|f| dsa::BigUint::from_bytes_be(f.content))
            .ok_or_else(malformed)
    };
    let components = dsa::Components::from_components(number(1)?, number(2)?, number(3)?)
        .map_err(|e| e.to_string())?;
    let verifying =
        dsa::VerifyingKey::from_components(components, number(4)?).map_err(|e| e.to_string())?;
    dsa::SigningKey::from_components(verifying, number(5)?)
        .map(|key| PrivateKey::Dsa(Box::new(key)))
        .map_err(|e| e.to_string())
}

/// What Sprig's `getBaseCertTemplate` puts in a certificate.
struct CertificateTemplate {
    common_name: String,
    ip_addresses: Vec<Vec<u8>>,
    dns_names: Vec<String>,
    days_valid: i64,
    is_ca: bool,
}

/// Sprig's `getNetIPs`: each element must be a string Go's `net.ParseIP` reads.
fn ip_addresses(value: &Value) -> Result<Vec<Vec<u8>>, FuncError> {
    let Some(list) = value.as_list() else {
        return Ok(Vec::new());
    };
    list.items
        .iter()
        .map(|item| {
            let Some(text) = item.as_str() else {
                return Err(FuncError::new(format!(
                    "error parsing ip: {} is not a string",
                    crate::fmt::sprint(std::slice::from_ref(item))
                )));
            };
            let ip: std::net::IpAddr = text
                .parse()
                .map_err(|_| FuncError::new(format!("error parsing ip: {text}")))?;
            Ok(match ip {
                std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
                std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                    Some(v4) => v4.octets().to_vec(),
                    None => v6.octets().to_vec(),
                },
            })
        })
        .collect()
}

/// Sprig's `getAlternateDNSStrs`.
fn dns_names(value: &Value) -> Result<Vec<String>, FuncError> {
    let Some(list) = value.as_list() else {
        return Ok(Vec::new());
    };
    list.items
        .iter()
        .map(|item| {
            item.as_str().map(str::to_string).ok_or_else(|| {
                FuncError::new(format!(
                    "error processing alternate dns name: {} is not a string",
                    crate::fmt::sprint(std::slice::from_ref(item))
                ))
            })
        })
        .collect()
}

fn template_from_args(args: &[Value]) -> Result<CertificateTemplate, FuncError> {
    Ok(CertificateTemplate {
        common_name: str_arg(args, 0).to_string(),
        ip_addresses: ip_addresses(&arg(args, 1))?,
        dns_names: dns_names(&arg(args, 2))?,
        days_valid: int_arg(args, 3),
        is_ca: false,
    })
}

fn subject_name(common_name: &str) -> Vec<u8> {
    if common_name.is_empty() {
        return der::sequence(&[]);
    }
    der::sequence(&[der::element(
        der::TAG_SET,
        &der::sequence(&[der::oid(&[2, 5, 4, 3]), der::string(common_name)]),
    )])
}

fn extension(arcs: &[u64], critical: bool, value: &[u8]) -> Vec<u8> {
    let mut parts = vec![der::oid(arcs)];
    if critical {
        parts.push(der::boolean_true());
    }
    parts.push(der::octet_string(value));
    der::sequence(&parts)
}

fn utc_fields(time: &GoTime) -> (i64, u32, u32, u32, u32, u32) {
    let text = time.format("2006 01 02 15 04 05");
    let n: Vec<i64> = text.split(' ').map(|p| p.parse().unwrap_or(0)).collect();
    (
        n[0],
        n[1] as u32,
        n[2] as u32,
        n[3] as u32,
        n[4] as u32,
        n[5] as u32,
    )
}

/// Where a certificate's issuer comes from: itself, or a parsed CA.
struct Issuer<'k> {
    subject: Vec<u8>,
    key_id: Option<Vec<u8>>,
    key: &'k PrivateKey,
}

/// Go's `x509.CreateCertificate` for Sprig's template; the DER of the certificate.
fn create_certificate(
    template: &CertificateTemplate,
    subject_key: &PrivateKey,
    issuer: Option<Issuer<'_>>,
) -> Result<Vec<u8>, String> {
    let (public_bytes, public_info) = subject_key.public_key_info()?;
    let subject = subject_name(&template.common_name);
    let issuer = issuer.unwrap_or(Issuer {
        subject: subject.clone(),
        key_id: None,
        key: subject_key,
    });
    let mut serial = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut serial);
    let now = GoTime::now().in_location(super::gotime::Location::Utc);
    let not_after = now.add(super::gotime::Duration(
        template
            .days_valid
            .saturating_mul(24 * 3600 * super::gotime::Duration::SECOND),
    ));

    let mut extensions = Vec::new();
    let usage: u8 = 0x80 | 0x20 | if template.is_ca { 0x04 } else { 0 };
    extensions.push(extension(
        &[2, 5, 29, 15],
        true,
        &der::trimmed_bit_string(&[usage]),
    ));
    extensions.push(extension(
        &[2, 5, 29, 37],
        false,
        &der::sequence(&[
            der::oid(&[1, 3, 6, 1, 5, 5, 7, 3, 1]),
            der::oid(&[1, 3, 6, 1, 5, 5, 7, 3, 2]),
        ]),
    ));
    let constraints = if template.is_ca {
        der::sequence(&[der::boolean_true()])
    } else {
        der::sequence(&[])
    };
    extensions.push(extension(&[2, 5, 29, 19], true, &constraints));
    if template.is_ca {
        let key_id = &sha2::Sha256::digest(&public_bytes)[..20];
        extensions.push(extension(
            &[2, 5, 29, 14],
            false,
            &der::octet_string(key_id),
        ));
    }
    if let Some(key_id) = issuer.key_id.as_ref().filter(|_| issuer.subject != subject) {
        let value = der::sequence(&[der::context(0, false, key_id)]);
        extensions.push(extension(&[2, 5, 29, 35], false, &value));
    }
    if !template.dns_names.is_empty() || !template.ip_addresses.is_empty() {
        let mut names: Vec<Vec<u8>> = template
            .dns_names
            .iter()
            .map(|name| der::context(2, false, name.as_bytes()))
            .collect();
        names.extend(
            template
                .ip_addresses
                .iter()
                .map(|ip| der::context(7, false, ip)),
        );
        extensions.push(extension(
            &[2, 5, 29, 17],
            template.common_name.is_empty(),
            &der::sequence(&names),
        ));
    }

    let signature_algorithm = issuer.key.signature_algorithm();
    let tbs = der::sequence(&[
        der::context(0, true, &der::small_integer(2)),
        der::unsigned_integer(&serial),
        signature_algorithm.clone(),
        issuer.subject.clone(),
        der::sequence(&[
            der::time(utc_fields(&now)),
            der::time(utc_fields(&not_after)),
        ]),
        subject,
        public_info,
        der::context(3, true, &der::sequence(&extensions)),
    ]);
    let signature = issuer.key.sign(&tbs)?;
    Ok(der::sequence(&[
        tbs,
        signature_algorithm,
        der::bit_string(&signature),
    ]))
}

/// Sprig's `getCertAndKey`: the certificate and the subject's key as PEM, in a `certificate`.
fn certificate_value(
    template: &CertificateTemplate,
    key: &PrivateKey,
    issuer: Option<Issuer<'_>>,
) -> Outcome {
    let certificate = create_certificate(template, key, issuer)
        .map_err(|e| FuncError::new(format!("error creating certificate: {e}")))?;
    Ok(Value::object(Certificate {
        cert: der::pem_encode("CERTIFICATE", &certificate),
        key: key.to_pem(),
    }))
}

fn certificate_authority(
    ctx: &mut CallContext<'_, '_>,
    common_name: &str,
    days_valid: i64,
    key: PrivateKey,
) -> Outcome {
    ctx.charge(SMALL_FUEL)?;
    let template = CertificateTemplate {
        common_name: common_name.to_string(),
        ip_addresses: Vec::new(),
        dns_names: Vec::new(),
        days_valid,
        is_ca: true,
    };
    certificate_value(&template, &key, None)
}

fn self_signed(ctx: &mut CallContext<'_, '_>, args: &[Value], key: PrivateKey) -> Outcome {
    ctx.charge(SMALL_FUEL)?;
    let template = template_from_args(args)?;
    certificate_value(&template, &key, None)
}

fn signed(ctx: &mut CallContext<'_, '_>, args: &[Value], key: PrivateKey) -> Outcome {
    ctx.charge(SMALL_FUEL)?;
    let ca = match args.get(4) {
        Some(Value::Object(object)) => (&**object as &dyn Any).downcast_ref::<Certificate>(),
        _ => None,
    }
    .ok_or_else(|| FuncError::new("unable to decode certificate"))?;
    let Some((_, cert_der)) = der::pem_decode(&ca.cert) else {
        return Err(FuncError::new("unable to decode certificate"));
    };
    let parsed = parse_certificate(&cert_der).map_err(|e| {
        FuncError::new(format!(
            "error parsing certificate: decodedSignerCert.Bytes: {e}"
        ))
    })?;
    let signer = parse_private_key_pem(&ca.key)
        .map_err(|e| FuncError::new(format!("error parsing private key: {e}")))?;
    let template = template_from_args(args)?;
    certificate_value(
        &template,
        &key,
        Some(Issuer {
            subject: parsed.subject,
            key_id: parsed.subject_key_id,
            key: &signer,
        }),
    )
}

/// The parts of a parsed certificate a signer needs.
struct ParsedCertificate {
    subject: Vec<u8>,
    subject_key_id: Option<Vec<u8>>,
}

/// Reads a certificate's structure (enough to reject what Go's `ParseCertificate` rejects for
/// being malformed, and to find its subject and subject key identifier).
fn parse_certificate(bytes: &[u8]) -> Result<ParsedCertificate, String> {
    let malformed = || "x509: malformed certificate".to_string();
    let (outer, rest) = der::read(bytes).ok_or_else(malformed)?;
    if outer.tag != der::TAG_SEQUENCE || !rest.is_empty() {
        return Err(malformed());
    }
    let parts = der::children(outer.content).ok_or_else(malformed)?;
    let [tbs, _, _] = parts.as_slice() else {
        return Err(malformed());
    };
    let fields = der::children(tbs.content).ok_or_else(malformed)?;
    let fields: Vec<Element<'_>> = fields.into_iter().filter(|f| f.tag != 0xa0).collect();
    if fields.len() < 6 {
        return Err(malformed());
    }
    let subject = fields[4].raw.to_vec();
    let mut subject_key_id = None;
    if let Some(extensions) = fields.iter().find(|f| f.tag == 0xa3) {
        let (list, _) = der::read(extensions.content).ok_or_else(malformed)?;
        for extension in der::children(list.content).ok_or_else(malformed)? {
            let parts = der::children(extension.content).ok_or_else(malformed)?;
            if parts.first().map(|p| p.raw) == Some(der::oid(&[2, 5, 29, 14]).as_slice()) {
                let value = parts.last().ok_or_else(malformed)?;
                let (key_id, _) = der::read(value.content).ok_or_else(malformed)?;
                subject_key_id = Some(key_id.content.to_vec());
            }
        }
    }
    Ok(ParsedCertificate {
        subject,
        subject_key_id,
    })
}

/// Sprig's `buildCustomCert`: checks a base64 PEM certificate and key and returns them as a
/// `certificate`.
fn build_custom_certificate(cert_base64: &str, key_base64: &str) -> Outcome {
    let cert = base64_decode(cert_base64)
        .map_err(|_| FuncError::new("unable to decode base64 certificate"))?;
    let key = base64_decode(key_base64)
        .map_err(|_| FuncError::new("unable to decode base64 private key"))?;
    let cert = String::from_utf8_lossy(&cert).into_owned();
    let key = String::from_utf8_lossy(&key).into_owned();
    let Some((_, cert_der)) = der::pem_decode(&cert) else {
        return Err(FuncError::new("unable to decode certificate"));
    };
    parse_certificate(&cert_der).map_err(|e| {
        FuncError::new(format!("error parsing certificate: decodedCert.Bytes: {e}"))
    })?;
    parse_private_key_pem(&key)
        .map_err(|e| FuncError::new(format!("error parsing private key: {e}")))?;
    Ok(Value::object(Certificate { cert, key }))
}

/// Sprig's `certificate` struct: `.Cert` and `.Key`, PEM text.
#[derive(Debug, Clone, PartialEq)]
struct Certificate {
    cert: String,
    key: String,
}

impl Object for Certificate {
    fn type_name(&self) -> Cow<'_, str> {
        Cow::Borrowed(CERTIFICATE_TYPE)
    }

    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Cert" => Some(Value::string(self.cert.as_str())),
            "Key" => Some(Value::string(self.key.as_str())),
            _ => None,
        }
    }

    fn print_fields(&self) -> Vec<(Cow<'_, str>, Value)> {
        vec![
            (Cow::Borrowed("Cert"), Value::string(self.cert.as_str())),
            (Cow::Borrowed("Key"), Value::string(self.key.as_str())),
        ]
    }

    fn equals(&self, other: &dyn Object) -> bool {
        (other as &dyn Any).downcast_ref::<Certificate>() == Some(self)
    }
}
