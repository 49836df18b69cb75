//! Chart provenance: Helm's `.prov` files, signed and verified with OpenPGP.
//!
//! A `.prov` file is an OpenPGP clear-signed message. Its text is the chart's metadata as YAML,
//! a `...` line, and a `files:` mapping from the archive's file name to `sha256:<hex>` of the
//! archive. Verifying it proves who signed the chart (the signature) and that the archive is the
//! one they signed (the digest). The format is Helm's, byte for byte, so `helm verify` and
//! `gpg --verify` accept what is made here and the reverse.

mod error;
mod keyring;
mod message;
mod mpi_repair;
mod sign;
mod verify;

pub use error::ProvenanceError;
pub use keyring::{Keyring, MAX_KEYRING_BYTES};
pub use message::{MessageBlock, archive_digest, message_block, parse_message_block};
pub use sign::{sign, sign_with_keyring};
pub use verify::{
    MAX_PROVENANCE_BYTES, Verification, provenance_path, verify_archive, verify_archive_file,
};
