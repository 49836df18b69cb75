//! Provenance against Helm's own test vectors, and every way verification must fail.

use capstan_chart::model::ChartMetadata;
use capstan_chart::provenance::{
    Keyring, ProvenanceError, archive_digest, message_block, sign, sign_with_keyring,
    verify_archive, verify_archive_file,
};
use sequoia_openpgp::cert::prelude::*;
use sequoia_openpgp::crypto::Password;
use sequoia_openpgp::packet::signature::SignatureBuilder;
use sequoia_openpgp::policy::StandardPolicy;
use sequoia_openpgp::serialize::stream::{Message, Signer};
use sequoia_openpgp::types::{HashAlgorithm, ReasonForRevocation, SignatureType};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/testdata/helm");
const HELM_TEST_UID: &str =
    "Helm Testing (This key should only be used for testing. DO NOT TRUST.) <helm-testing@helm.sh>";
const HELM_TEST_FPR: &str = "5E615389B53CA37F0EE60BD3843BBF981FC18762";
const HASHTEST_SHA: &str =
    "sha256:c6841b3a895f1444a6738b5d04564a57e860ce42f8519c3be807fb6d9bee7888";

fn vector(path: &str) -> PathBuf {
    Path::new(TESTDATA).join(path)
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(vector(path)).expect("Helm test vector present")
}

fn keyring(path: &str) -> Keyring {
    Keyring::from_file(&vector(path)).unwrap()
}

fn hashtest_metadata() -> ChartMetadata {
    serde_saphyr::from_str(&String::from_utf8(read("provenance/hashtest/Chart.yaml")).unwrap())
        .unwrap()
}

fn hashtest_archive() -> Vec<u8> {
    read("provenance/hashtest-1.2.3.tgz")
}

#[test]
fn helm_and_gnupg_provenance_verify_with_helms_results() {
    let cases = [
        (
            "provenance/hashtest-1.2.3.tgz.prov",
            "provenance/helm-test-key.pub",
        ),
        (
            "provenance/msgblock.yaml.asc",
            "provenance/helm-test-key.pub",
        ),
        (
            "provenance/hashtest-1.2.3.tgz.prov",
            "provenance/helm-mixed-keyring.pub",
        ),
    ];
    for (prov, ring) in cases {
        let verification = verify_archive(
            "hashtest-1.2.3.tgz",
            &hashtest_archive(),
            &read(prov),
            &keyring(ring),
        )
        .unwrap_or_else(|e| panic!("{prov} with {ring}: {e}"));
        assert_eq!(verification.signer, HELM_TEST_UID, "{prov} with {ring}");
        assert_eq!(
            verification.fingerprint, HELM_TEST_FPR,
            "{prov} with {ring}"
        );
        assert_eq!(verification.hash, HASHTEST_SHA, "{prov} with {ring}");
    }
}

#[test]
fn signtest_verifies_from_files_with_helms_exact_results() {
    let verification = verify_archive_file(
        &vector("signtest/signtest-0.1.0.tgz"),
        &keyring("provenance/helm-test-key.pub"),
    )
    .unwrap();
    assert_eq!(verification.signer, HELM_TEST_UID);
    assert_eq!(verification.fingerprint, HELM_TEST_FPR);
    assert_eq!(
        verification.hash,
        "sha256:e5ef611620fb97704d8751c16bab17fedb68883bfb0edc76f78a70e9173f9b55"
    );
}

#[test]
fn tampering_renaming_and_changing_each_fail_distinctly() {
    let mut changed = hashtest_archive();
    changed.push(0);
    type Expectation = fn(&ProvenanceError) -> bool;
    let cases: [(&str, Vec<u8>, &str, &str, Expectation); 3] = [
        (
            "tampered .prov",
            hashtest_archive(),
            "hashtest-1.2.3.tgz",
            "provenance/msgblock.yaml.tampered",
            |e| matches!(e, ProvenanceError::BadSignature { .. }),
        ),
        (
            "changed archive",
            changed,
            "hashtest-1.2.3.tgz",
            "provenance/hashtest-1.2.3.tgz.prov",
            |e| matches!(e, ProvenanceError::DigestMismatch { .. }),
        ),
        (
            "renamed archive",
            hashtest_archive(),
            "hashtest-9.9.9.tgz",
            "provenance/hashtest-1.2.3.tgz.prov",
            |e| matches!(e, ProvenanceError::FileNotListed { .. }),
        ),
    ];
    let ring = keyring("provenance/helm-test-key.pub");
    for (case, archive, name, prov, expected) in cases {
        let err = verify_archive(name, &archive, &read(prov), &ring).unwrap_err();
        assert!(expected(&err), "{case}: {err}");
    }
}

#[test]
fn unknown_key_is_reported_with_its_issuer() {
    let (stranger, _) = CertBuilder::general_purpose(Some("Stranger <s@example.com>"))
        .generate()
        .unwrap();
    let ring = Keyring::from_certs(vec![stranger], "stranger.gpg");
    let err = verify_archive(
        "hashtest-1.2.3.tgz",
        &hashtest_archive(),
        &read("provenance/hashtest-1.2.3.tgz.prov"),
        &ring,
    )
    .unwrap_err();
    assert!(matches!(err, ProvenanceError::UnknownKey { .. }), "{err}");
    assert!(err.to_string().contains("843BBF981FC18762"), "{err}");
}

#[test]
fn oversized_and_unsigned_provenance_is_refused() {
    let ring = keyring("provenance/helm-test-key.pub");
    let huge = vec![b'a'; 2 * 1024 * 1024];
    let err = verify_archive("x.tgz", b"x", &huge, &ring).unwrap_err();
    assert!(matches!(err, ProvenanceError::TooLarge { .. }), "{err}");
    let err = verify_archive("x.tgz", b"x", &read("provenance/msgblock.yaml"), &ring).unwrap_err();
    assert!(
        matches!(err, ProvenanceError::NotClearSigned { .. }),
        "{err}"
    );
}

#[test]
fn signing_with_helms_secret_key_round_trips() {
    let secret = keyring("provenance/helm-test-key.secret");
    let archive = hashtest_archive();
    let prov = sign_with_keyring(
        "hashtest-1.2.3.tgz",
        &archive,
        &hashtest_metadata(),
        &secret,
        "helm-testing@helm.sh",
        None,
    )
    .unwrap();
    // Helm's layout: the message block verbatim, SHA-512, no blank line before the signature.
    assert!(
        prov.starts_with("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n"),
        "{prov}"
    );
    let block = String::from_utf8(read("provenance/msgblock.yaml")).unwrap();
    assert!(
        prov.contains(&format!("{block}-----BEGIN PGP SIGNATURE-----")),
        "{prov}"
    );
    let verification = verify_archive(
        "hashtest-1.2.3.tgz",
        &archive,
        prov.as_bytes(),
        &keyring("provenance/helm-mixed-keyring.pub"),
    )
    .unwrap();
    assert_eq!(verification.fingerprint, HELM_TEST_FPR);
}

#[test]
fn passphrase_protected_key_needs_the_right_passphrase() {
    let secret = keyring("provenance/helm-password-key.secret");
    let key = secret.find("password key (fake) <fake@helm.sh>").unwrap();
    assert_eq!(
        key.fingerprint().to_hex(),
        "E18D0BE258CB62933597C3527A891631B10DA2B1"
    );
    let metadata = hashtest_metadata();
    let archive = hashtest_archive();
    let missing = sign("hashtest-1.2.3.tgz", &archive, &metadata, key, None).unwrap_err();
    assert!(
        matches!(missing, ProvenanceError::PassphraseRequired { .. }),
        "{missing}"
    );
    let wrong = sign(
        "hashtest-1.2.3.tgz",
        &archive,
        &metadata,
        key,
        Some("secrets_and_lies"),
    )
    .unwrap_err();
    assert!(
        matches!(wrong, ProvenanceError::WrongPassphrase { .. }),
        "{wrong}"
    );
    assert!(!wrong.to_string().contains("secrets_and_lies"));
    let prov = sign(
        "hashtest-1.2.3.tgz",
        &archive,
        &metadata,
        key,
        Some("secret"),
    )
    .unwrap();
    let public = Keyring::from_certs(
        vec![key.clone().strip_secret_key_material()],
        "password key",
    );
    let verification =
        verify_archive("hashtest-1.2.3.tgz", &archive, prov.as_bytes(), &public).unwrap();
    assert_eq!(verification.signer, "password key (fake) <fake@helm.sh>");
}

/// Signs the hashtest message block with `cert` at `time`, with the given hash.
fn sign_block_at(cert: &Cert, time: SystemTime, hash: HashAlgorithm) -> Vec<u8> {
    let policy = StandardPolicy::new();
    let keypair = cert
        .keys()
        .with_policy(&policy, time)
        .secret()
        .for_signing()
        .next()
        .expect("a signing key valid at that time")
        .key()
        .clone()
        .into_keypair()
        .unwrap();
    let block = message_block(
        &hashtest_metadata(),
        "hashtest-1.2.3.tgz",
        &hashtest_archive(),
    );
    let mut output = Vec::new();
    let message = Message::new(&mut output);
    let template = SignatureBuilder::new(SignatureType::Text)
        .set_signature_creation_time(time)
        .unwrap();
    let mut signer = Signer::with_template(message, keypair, template)
        .unwrap()
        .cleartext()
        .hash_algo(hash)
        .unwrap()
        .build()
        .unwrap();
    signer.write_all(block.trim_end().as_bytes()).unwrap();
    signer.finalize().unwrap();
    output
}

/// A fresh key, created an hour ago so signatures can be dated before "now".
fn generated_cert(user_id: &str) -> Cert {
    CertBuilder::general_purpose(Some(user_id))
        .set_creation_time(SystemTime::now() - Duration::from_secs(3600))
        .generate()
        .unwrap()
        .0
}

/// Verifies a provenance for hashtest made with a generated key, against its public part.
fn verify_generated(
    prov: &[u8],
    cert: &Cert,
) -> Result<capstan_chart::provenance::Verification, ProvenanceError> {
    verify_archive(
        "hashtest-1.2.3.tgz",
        &hashtest_archive(),
        prov,
        &public_ring(cert),
    )
}

fn public_ring(cert: &Cert) -> Keyring {
    Keyring::from_certs(
        vec![cert.clone().strip_secret_key_material()],
        "generated keyring",
    )
}

#[test]
fn expired_key_is_refused() {
    let created = SystemTime::now() - Duration::from_secs(10 * 24 * 3600);
    let (cert, _) = CertBuilder::general_purpose(Some("Old <old@example.com>"))
        .set_creation_time(created)
        .set_validity_period(Duration::from_secs(24 * 3600))
        .generate()
        .unwrap();
    let prov = sign_block_at(
        &cert,
        created + Duration::from_secs(3600),
        HashAlgorithm::SHA512,
    );
    let err = verify_generated(&prov, &cert).unwrap_err();
    assert!(matches!(err, ProvenanceError::KeyExpired { .. }), "{err}");
}

#[test]
fn revoked_key_is_refused() {
    let cert = generated_cert("Gone <gone@example.com>");
    let prov = sign_block_at(
        &cert,
        SystemTime::now() - Duration::from_secs(60),
        HashAlgorithm::SHA512,
    );
    let mut signer = cert
        .primary_key()
        .key()
        .clone()
        .parts_into_secret()
        .unwrap()
        .into_keypair()
        .unwrap();
    let revocation = cert
        .revoke(&mut signer, ReasonForRevocation::KeyCompromised, b"test")
        .unwrap();
    let (revoked, _) = cert.insert_packets(revocation).unwrap();
    let err = verify_generated(&prov, &revoked).unwrap_err();
    assert!(matches!(err, ProvenanceError::KeyRevoked { .. }), "{err}");
}

#[test]
fn weak_hashes_are_refused() {
    let cert = generated_cert("Weak <weak@example.com>");
    for hash in [HashAlgorithm::SHA1, HashAlgorithm::MD5] {
        let prov = sign_block_at(&cert, SystemTime::now() - Duration::from_secs(60), hash);
        let err = verify_generated(&prov, &cert).unwrap_err();
        assert!(
            matches!(err, ProvenanceError::WeakHash { .. }),
            "{hash}: {err}"
        );
    }
}

#[test]
fn generated_keys_with_passphrase_sign_and_verify() {
    let (cert, _) = CertBuilder::general_purpose(Some("Author <author@example.com>"))
        .set_password(Some(Password::from("hunter2")))
        .generate()
        .unwrap();
    let archive = hashtest_archive();
    let prov = sign(
        "hashtest-1.2.3.tgz",
        &archive,
        &hashtest_metadata(),
        &cert,
        Some("hunter2"),
    )
    .unwrap();
    let verification = verify_archive(
        "hashtest-1.2.3.tgz",
        &archive,
        prov.as_bytes(),
        &public_ring(&cert),
    )
    .unwrap();
    assert_eq!(verification.signer, "Author <author@example.com>");
    assert_eq!(verification.hash, archive_digest(&archive));
}
