//! Provenance made by Helm and GnuPG verifies with their results, and every way verification must
//! fail does. `capstan_testdata::vector_tests!` runs each check twice: on the fixtures committed in
//! `testdata/helm` (module `generated`, always), and on Helm's own test vectors (module
//! `helm_vectors`), whose tests carry `#[ignore = "needs ../shared/testdata/helm"]` since a fresh
//! clone has no `../shared`; `make test` runs them with `--ignored` where it is present.

use capstan_chart::model::ChartMetadata;
use capstan_chart::provenance::{
    Keyring, ProvenanceError, archive_digest, message_block, sign, sign_with_keyring,
    verify_archive, verify_archive_file,
};
use capstan_testdata::Vectors;
use sequoia_openpgp::cert::prelude::*;
use sequoia_openpgp::crypto::Password;
use sequoia_openpgp::packet::signature::SignatureBuilder;
use sequoia_openpgp::policy::StandardPolicy;
use sequoia_openpgp::serialize::stream::{Message, Signer};
use sequoia_openpgp::types::{HashAlgorithm, ReasonForRevocation, SignatureType};
use std::io::Write;
use std::time::{Duration, SystemTime};

fn keyring(vectors: &Vectors, path: &str) -> Keyring {
    Keyring::from_file(&vectors.path(path)).unwrap()
}

fn hashtest_metadata(vectors: &Vectors) -> ChartMetadata {
    serde_saphyr::from_str(&vectors.read_string("provenance/hashtest/Chart.yaml")).unwrap()
}

fn hashtest_archive(vectors: &Vectors) -> Vec<u8> {
    vectors.read("provenance/hashtest-1.2.3.tgz")
}

/// The value after `label: ` in what `helm verify` printed for signtest.
fn helm_verify_says(vectors: &Vectors, label: &str) -> String {
    let output = vectors.signtest_helm_verify_output();
    output
        .lines()
        .find_map(|line| line.strip_prefix(label)?.strip_prefix(": "))
        .unwrap_or_else(|| panic!("no {label:?} in helm verify's output:\n{output}"))
        .to_string()
}

capstan_testdata::vector_tests! {
    fn helm_and_gnupg_provenance_verify_with_helms_results(vectors) {
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
        let signer = vectors.signer();
        for (prov, ring) in cases {
            let verification = verify_archive(
                "hashtest-1.2.3.tgz",
                &hashtest_archive(vectors),
                &vectors.read(prov),
                &keyring(vectors, ring),
            )
            .unwrap_or_else(|e| panic!("{prov} with {ring}: {e}"));
            assert_eq!(verification.signer, signer.user_id, "{prov} with {ring}");
            assert_eq!(verification.fingerprint, signer.fingerprint, "{prov} with {ring}");
            assert_eq!(verification.hash, vectors.hashtest_digest(), "{prov} with {ring}");
        }
    }

    fn signtest_verifies_from_files_with_helms_exact_results(vectors) {
        let verification = verify_archive_file(
            &vectors.path("signtest/signtest-0.1.0.tgz"),
            &keyring(vectors, "provenance/helm-test-key.pub"),
        )
        .unwrap();
        assert_eq!(verification.signer, helm_verify_says(vectors, "Signed by"));
        assert_eq!(
            verification.fingerprint,
            helm_verify_says(vectors, "Using Key With Fingerprint")
        );
        assert_eq!(verification.hash, helm_verify_says(vectors, "Chart Hash Verified"));
    }

    fn tampering_renaming_and_changing_each_fail_distinctly(vectors) {
        let mut changed = hashtest_archive(vectors);
        changed.push(0);
        type Expectation = fn(&ProvenanceError) -> bool;
        let cases: [(&str, Vec<u8>, &str, &str, Expectation); 3] = [
            (
                "tampered .prov",
                hashtest_archive(vectors),
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
                hashtest_archive(vectors),
                "hashtest-9.9.9.tgz",
                "provenance/hashtest-1.2.3.tgz.prov",
                |e| matches!(e, ProvenanceError::FileNotListed { .. }),
            ),
        ];
        let ring = keyring(vectors, "provenance/helm-test-key.pub");
        for (case, archive, name, prov, expected) in cases {
            let err = verify_archive(name, &archive, &vectors.read(prov), &ring).unwrap_err();
            assert!(expected(&err), "{case}: {err}");
        }
    }

    fn unknown_key_is_reported_with_its_issuer(vectors) {
        let (stranger, _) = CertBuilder::general_purpose(Some("Stranger <s@example.com>"))
            .generate()
            .unwrap();
        let ring = Keyring::from_certs(vec![stranger], "stranger.gpg");
        let err = verify_archive(
            "hashtest-1.2.3.tgz",
            &hashtest_archive(vectors),
            &vectors.read("provenance/hashtest-1.2.3.tgz.prov"),
            &ring,
        )
        .unwrap_err();
        assert!(matches!(err, ProvenanceError::UnknownKey { .. }), "{err}");
        assert!(err.to_string().contains(vectors.signer().key_id()), "{err}");
    }

    fn oversized_and_unsigned_provenance_is_refused(vectors) {
        let ring = keyring(vectors, "provenance/helm-test-key.pub");
        let huge = vec![b'a'; 2 * 1024 * 1024];
        let err = verify_archive("x.tgz", b"x", &huge, &ring).unwrap_err();
        assert!(matches!(err, ProvenanceError::TooLarge { .. }), "{err}");
        let block = vectors.read("provenance/msgblock.yaml");
        let err = verify_archive("x.tgz", b"x", &block, &ring).unwrap_err();
        assert!(
            matches!(err, ProvenanceError::NotClearSigned { .. }),
            "{err}"
        );
    }

    fn signing_with_helms_secret_key_round_trips(vectors) {
        let secret = keyring(vectors, "provenance/helm-test-key.secret");
        let archive = hashtest_archive(vectors);
        let prov = sign_with_keyring(
            "hashtest-1.2.3.tgz",
            &archive,
            &hashtest_metadata(vectors),
            &secret,
            vectors.signer().email(),
            None,
        )
        .unwrap();
        // Helm's layout: the message block verbatim, SHA-512, no blank line before the signature.
        assert!(
            prov.starts_with("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n"),
            "{prov}"
        );
        let block = vectors.read_string("provenance/msgblock.yaml");
        assert!(
            prov.contains(&format!("{}-----BEGIN PGP SIGNATURE-----", dash_escaped(&block))),
            "{prov}"
        );
        let verification = verify_archive(
            "hashtest-1.2.3.tgz",
            &archive,
            prov.as_bytes(),
            &keyring(vectors, "provenance/helm-mixed-keyring.pub"),
        )
        .unwrap();
        assert_eq!(verification.fingerprint, vectors.signer().fingerprint);
    }

    fn passphrase_protected_key_needs_the_right_passphrase(vectors) {
        let secret = keyring(vectors, "provenance/helm-password-key.secret");
        let password_key = vectors.password_key();
        let key = secret.find(&password_key.user_id).unwrap();
        assert_eq!(key.fingerprint().to_hex(), password_key.fingerprint);
        let metadata = hashtest_metadata(vectors);
        let archive = hashtest_archive(vectors);
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
            Some(Vectors::PASSPHRASE),
        )
        .unwrap();
        let public = Keyring::from_certs(
            vec![key.clone().strip_secret_key_material()],
            "password key",
        );
        let verification =
            verify_archive("hashtest-1.2.3.tgz", &archive, prov.as_bytes(), &public).unwrap();
        assert_eq!(verification.signer, password_key.user_id);
    }
}

/// Text as a clear signature carries it: a line that starts with `-` gets `- ` before it.
fn dash_escaped(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|line| {
            if line.starts_with('-') {
                format!("- {line}")
            } else {
                line.to_string()
            }
        })
        .collect()
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
    let vectors = Vectors::generated();
    let block = message_block(
        &hashtest_metadata(&vectors),
        "hashtest-1.2.3.tgz",
        &hashtest_archive(&vectors),
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
        &hashtest_archive(&Vectors::generated()),
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
    let vectors = Vectors::generated();
    let archive = hashtest_archive(&vectors);
    let prov = sign(
        "hashtest-1.2.3.tgz",
        &archive,
        &hashtest_metadata(&vectors),
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
