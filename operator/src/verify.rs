//! Provenance policy: what a `.prov` file's presence and verification mean under each mode.

use capstan_api::VerificationMode;

use crate::error::{Error, Result};

/// What to do with a package under `mode`, before any cryptography: whether a signature must be
/// checked, or why the package is refused outright.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    /// Nothing to verify.
    Skip,
    /// Verify the provenance file against the keyring.
    Verify,
}

/// Decides from the mode and whether a provenance file came with the archive.
pub fn decide(mode: VerificationMode, has_provenance: bool) -> Result<Check> {
    match (mode, has_provenance) {
        (VerificationMode::Ignore, _) | (VerificationMode::IfPresent, false) => Ok(Check::Skip),
        (VerificationMode::Required, false) => Err(Error::Verification(
            "the policy is Required but the chart has no provenance (.prov) file; sign it with \
             `capstan package --sign` or relax spec.verify.mode"
                .into(),
        )),
        (_, true) => Ok(Check::Verify),
    }
}

/// Verifies a provenance file. Signature checking lives in `capstan_chart::provenance`; until
/// this build has it, a package that needs verifying is refused rather than accepted unchecked.
pub fn verify_signature(_archive: &[u8], _provenance: &[u8], _keyring: &[u8]) -> Result<()> {
    Err(Error::Verification(
        "this operator build cannot check signatures yet; set spec.verify.mode to Ignore to \
         deploy unsigned-checked charts"
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_decide_whether_to_verify() {
        assert_eq!(decide(VerificationMode::Ignore, true).unwrap(), Check::Skip);
        assert_eq!(
            decide(VerificationMode::IfPresent, false).unwrap(),
            Check::Skip
        );
        assert_eq!(
            decide(VerificationMode::IfPresent, true).unwrap(),
            Check::Verify
        );
        assert_eq!(
            decide(VerificationMode::Required, true).unwrap(),
            Check::Verify
        );
        let error = decide(VerificationMode::Required, false).unwrap_err();
        assert!(error.is_stalled());
        assert!(error.to_string().contains("no provenance"));
    }
}
