//! `.prov` files come from chart repositories and registries, so the provenance reader must fail
//! cleanly on any input. Each input is used twice: as a whole `.prov` file verified against a
//! fixed keyring (clear-signature framing, armor, the signature-repair pass, OpenPGP parsing), and
//! as the signed text itself (the metadata YAML, `...`, and the `files:` sums), which is only
//! reached through a valid signature otherwise.
//!
//! Seeds: `fuzz/seeds/provenance_parse/` (Helm's and GnuPG's provenance for Helm's test charts).
//! Run with `cargo +nightly fuzz run provenance_parse` from `fuzz/`.

#![no_main]

use capstan_chart::provenance::{Keyring, parse_message_block, verify_archive};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// Helm's public test key, which signed the seed files.
const HELM_TEST_KEY: &[u8] = include_bytes!("../fixtures/helm-test-key.pub");

fn keyring() -> &'static Keyring {
    static KEYRING: OnceLock<Keyring> = OnceLock::new();
    KEYRING.get_or_init(|| {
        Keyring::from_bytes(HELM_TEST_KEY, "helm-test-key.pub").expect("Helm's test key reads")
    })
}

fuzz_target!(|data: &[u8]| {
    // The archive bytes are not the signed ones, so even a valid signature ends in a digest
    // mismatch; what matters is that every path returns instead of panicking or hanging.
    if let Ok(verified) = verify_archive("hashtest-1.2.3.tgz", b"not the archive", data, keyring()) {
        panic!("an archive that is not the signed one verified: {verified:?}");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_message_block(text);
    }
});
