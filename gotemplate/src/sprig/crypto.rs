//! Sprig's hashing, random and encryption functions: `sha1sum`, `sha256sum`, `sha512sum`,
//! `adler32sum`, `bcrypt`, `htpasswd`, `randBytes`, `uuidv4`, `derivePassword`, `encryptAES`,
//! `decryptAES`. The certificate functions are in [`super::certs`].

use super::encoding::{base64_decode, base64_encode};
use super::types::{int, string, uint32};
use super::{define, int_arg, str_arg, string_result};
use crate::funcs::{CallContext, FuncError, Funcs, Signature};
use crate::value::Value;
use rand::RngCore;
use sha2::Digest;

/// Fuel charged for one bcrypt hash at Go's default cost (it takes tens of milliseconds).
const BCRYPT_FUEL: u64 = 100_000;
/// Fuel charged for one scrypt key derivation (N=32768, r=8: about 32 MiB of work).
const SCRYPT_FUEL: u64 = 1_000_000;
/// Go's `bcrypt.DefaultCost`.
const BCRYPT_COST: u32 = 10;

pub(super) fn register(funcs: &mut Funcs) {
    register_hashes(funcs);
    register_random(funcs);
    register_passwords(funcs);
    register_aes(funcs);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn register_hashes(funcs: &mut Funcs) {
    type Hash = fn(&[u8]) -> String;
    let hashes: [(&str, Hash); 4] = [
        ("sha1sum", |b| hex(&sha1::Sha1::digest(b))),
        ("sha256sum", |b| hex(&sha2::Sha256::digest(b))),
        ("sha512sum", |b| hex(&sha2::Sha512::digest(b))),
        ("adler32sum", |b| adler32(b).to_string()),
    ];
    for (name, hash) in hashes {
        define(
            funcs,
            &[name],
            Signature::new([string()]),
            move |ctx, args| {
                let input = str_arg(args, 0);
                ctx.charge(input.len() as u64 / 16)?;
                string_result(ctx, hash(input.as_bytes()))
            },
        );
    }
}

/// Go's `hash/adler32.Checksum`.
fn adler32(bytes: &[u8]) -> u32 {
    const MOD: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in bytes.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    b << 16 | a
}

fn register_random(funcs: &mut Funcs) {
    define(
        funcs,
        &["randBytes"],
        Signature::new([int()]),
        |ctx, args| {
            let count = int_arg(args, 0);
            let count = usize::try_from(count)
                .map_err(|_| FuncError::new("runtime error: makeslice: len out of range"))?;
            ctx.charge_bytes(count.div_ceil(3) * 4)?;
            let mut bytes = vec![0u8; count];
            rand::thread_rng().fill_bytes(&mut bytes);
            Ok(Value::string(base64_encode(&bytes)))
        },
    );
    define(funcs, &["uuidv4"], Signature::new([]), |_, _| {
        Ok(Value::string(uuid_v4()))
    });
}

/// A random (version 4, RFC 4122 variant) UUID in Go's `uuid.New().String()` form.
fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn register_passwords(funcs: &mut Funcs) {
    define(
        funcs,
        &["bcrypt"],
        Signature::new([string()]),
        |ctx, args| {
            let hashed = bcrypt_hash(ctx, str_arg(args, 0))?;
            string_result(ctx, hashed)
        },
    );
    define(
        funcs,
        &["htpasswd"],
        Signature::new([string(), string()]),
        |ctx, args| {
            let (user, password) = (str_arg(args, 0), str_arg(args, 1));
            if user.contains(':') {
                return string_result(ctx, format!("invalid username: {user}"));
            }
            let hashed = bcrypt_hash(ctx, password)?;
            string_result(ctx, format!("{user}:{hashed}"))
        },
    );
    define(
        funcs,
        &["derivePassword"],
        Signature::new([uint32(), string(), string(), string(), string()]),
        |ctx, args| {
            ctx.charge(SCRYPT_FUEL)?;
            let counter = int_arg(args, 0) as u32;
            let text = derive_password(
                counter,
                str_arg(args, 1),
                str_arg(args, 2),
                str_arg(args, 3),
                str_arg(args, 4),
            );
            string_result(ctx, text)
        },
    );
}

/// Sprig's `bcrypt`: `golang.org/x/crypto/bcrypt` at the default cost, `$2a$` form; a failure
/// becomes the result text, as in Sprig.
fn bcrypt_hash(ctx: &mut CallContext<'_, '_>, password: &str) -> Result<String, FuncError> {
    ctx.charge(BCRYPT_FUEL)?;
    if password.len() > 72 {
        return Ok(
            "failed to encrypt string with bcrypt: bcrypt: password length exceeds 72 bytes"
                .to_string(),
        );
    }
    match bcrypt::hash_with_result(password, BCRYPT_COST) {
        Ok(parts) => Ok(parts.format_for_version(bcrypt::Version::TwoA)),
        Err(error) => Ok(format!("failed to encrypt string with bcrypt: {error}")),
    }
}

/// The password templates of Sprig's `derivePassword` (Master Password algorithm).
fn password_templates(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        _ => return None,
    })
}

fn template_characters(class: u8) -> &'static [u8] {
    match class {
        b'V' => b"AEIOU",
        b'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
        b'v' => b"aeiou",
        b'c' => b"bcdfghjklmnpqrstvwxyz",
        b'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
        b'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
        b'n' => b"0123456789",
        b'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
        b'x' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
        _ => b"",
    }
}

/// Sprig's `derivePassword`: scrypt(password, seed ‖ len(user) ‖ user) keys an HMAC-SHA256 of
/// seed ‖ len(site) ‖ site ‖ counter, whose bytes pick a template and its characters.
fn derive_password(counter: u32, kind: &str, password: &str, user: &str, site: &str) -> String {
    use hmac::Mac;
    const SEED: &str = "com.lyndir.masterpassword";
    let Some(templates) = password_templates(kind) else {
        return format!("cannot find password template {kind}");
    };
    let mut salt = SEED.as_bytes().to_vec();
    salt.extend_from_slice(&(user.len() as u32).to_be_bytes());
    salt.extend_from_slice(user.as_bytes());
    let mut key = [0u8; 64];
    let params = scrypt::Params::new(15, 8, 2, 64).expect("valid scrypt parameters");
    if let Err(error) = scrypt::scrypt(password.as_bytes(), &salt, &params, &mut key) {
        return format!("failed to derive password: {error}");
    }
    let mut message = SEED.as_bytes().to_vec();
    message.extend_from_slice(&(site.len() as u32).to_be_bytes());
    message.extend_from_slice(site.as_bytes());
    message.extend_from_slice(&counter.to_be_bytes());
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(&message);
    let seed = mac.finalize().into_bytes();
    let template = templates[usize::from(seed[0]) % templates.len()];
    template
        .bytes()
        .enumerate()
        .map(|(i, class)| {
            let chars = template_characters(class);
            char::from(chars[usize::from(seed[i + 1]) % chars.len()])
        })
        .collect()
}

fn register_aes(funcs: &mut Funcs) {
    define(
        funcs,
        &["encryptAES"],
        Signature::new([string(), string()]),
        |ctx, args| {
            let plaintext = str_arg(args, 1);
            ctx.charge_bytes((plaintext.len() + 32) / 3 * 4 + 4)?;
            string_result(ctx, encrypt_aes(str_arg(args, 0), plaintext))
        },
    );
    define(
        funcs,
        &["decryptAES"],
        Signature::new([string(), string()]),
        |ctx, args| {
            let text = decrypt_aes(str_arg(args, 0), str_arg(args, 1))?;
            string_result(ctx, text)
        },
    );
}

/// The AES-256 key Sprig derives from a password: its bytes, zero-padded or cut to 32.
fn aes_key(password: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    let bytes = password.as_bytes();
    let n = bytes.len().min(32);
    key[..n].copy_from_slice(&bytes[..n]);
    key
}

/// Sprig's `encryptAES`: AES-256-CBC with PKCS#7 padding and a random IV in front, base64.
fn encrypt_aes(password: &str, plaintext: &str) -> String {
    use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::NoPadding};
    if plaintext.is_empty() {
        return String::new();
    }
    let mut iv = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut iv);
    let cipher = cbc::Encryptor::<aes::Aes256>::new(&aes_key(password).into(), &iv.into());
    // PKCS#7 padding, as Sprig adds it by hand.
    let padding = 16 - plaintext.len() % 16;
    let mut buffer = plaintext.as_bytes().to_vec();
    buffer.resize(plaintext.len() + padding, padding as u8);
    let length = buffer.len();
    let Ok(encrypted) = cipher.encrypt_padded_mut::<NoPadding>(&mut buffer, length) else {
        return String::new();
    };
    let mut out = iv.to_vec();
    out.extend_from_slice(encrypted);
    base64_encode(&out)
}

/// Sprig's `decryptAES`. Go's CBC decrypter panics on input that is not whole blocks and Sprig
/// strips the padding without checking it; both cases are errors here rather than garbage.
fn decrypt_aes(password: &str, encoded: &str) -> Result<String, FuncError> {
    use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::NoPadding};
    if encoded.is_empty() {
        return Ok(String::new());
    }
    let data = base64_decode(encoded)
        .map_err(|offset| FuncError::new(format!("illegal base64 data at input byte {offset}")))?;
    if data.len() < 16 {
        return Err(FuncError::new(format!(
            "runtime error: slice bounds out of range [:16] with capacity {}",
            data.len()
        )));
    }
    let (iv, body) = data.split_at(16);
    if body.len() % 16 != 0 || body.is_empty() {
        return Err(FuncError::new("crypto/cipher: input not full blocks"));
    }
    let cipher = cbc::Decryptor::<aes::Aes256>::new(&aes_key(password).into(), iv.into());
    let mut buffer = body.to_vec();
    let decrypted = cipher
        .decrypt_padded_mut::<NoPadding>(&mut buffer)
        .map_err(|_| FuncError::new("crypto/cipher: input not full blocks"))?;
    let padding = usize::from(*decrypted.last().unwrap_or(&0));
    let keep = decrypted.len().checked_sub(padding).ok_or_else(|| {
        FuncError::new(format!(
            "runtime error: slice bounds out of range [:-{}]",
            padding - decrypted.len()
        ))
    })?;
    Ok(String::from_utf8_lossy(&decrypted[..keep]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values printed by Go 1.26 through Sprig v3.3.0.

    #[test]
    fn checksums_like_go() {
        assert_eq!(adler32(b"hello"), 103_547_413);
        assert_eq!(
            hex(&sha1::Sha1::digest(b"hello")),
            "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"
        );
    }

    #[test]
    fn derive_password_like_sprig() {
        assert_eq!(
            derive_password(1, "long", "password", "user", "example.com"),
            "ZedaFaxcZaso9*"
        );
    }

    #[test]
    fn aes_round_trips() {
        let encrypted = encrypt_aes("secret", "hello world");
        assert_eq!(decrypt_aes("secret", &encrypted).unwrap(), "hello world");
        assert!(uuid_v4().chars().nth(14) == Some('4'));
    }
}
