//! `capstan verify` prints exactly what `helm verify` prints, and fails the way it does.

use std::path::Path;
use std::process::Command;

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/testdata/helm");

fn capstan(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(args)
        .output()
        .expect("capstan runs")
}

fn keyring() -> String {
    format!("{TESTDATA}/provenance/helm-test-key.pub")
}

#[test]
fn verify_prints_helms_three_lines() {
    let archive = format!("{TESTDATA}/signtest/signtest-0.1.0.tgz");
    let output = capstan(&["verify", &archive, "--keyring", &keyring()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "Signed by: Helm Testing (This key should only be used for testing. DO NOT TRUST.) <helm-testing@helm.sh>\n\
         Using Key With Fingerprint: 5E615389B53CA37F0EE60BD3843BBF981FC18762\n\
         Chart Hash Verified: sha256:e5ef611620fb97704d8751c16bab17fedb68883bfb0edc76f78a70e9173f9b55\n"
    );
}

#[test]
fn verify_refuses_directories_and_missing_provenance() {
    let directory = format!("{TESTDATA}/signtest/signtest");
    let output = capstan(&["verify", &directory, "--keyring", &keyring()]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unpacked charts cannot be verified"));

    let unsigned = format!("{TESTDATA}/repo/repository/sprocket-1.1.0.tgz");
    assert!(Path::new(&unsigned).exists());
    let output = capstan(&["verify", &unsigned, "--keyring", &keyring()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("could not load provenance file"),
        "{stderr}"
    );
    assert!(stderr.contains("sprocket-1.1.0.tgz.prov"), "{stderr}");
}

#[test]
fn verify_reports_a_changed_archive() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("signtest-0.1.0.tgz");
    let mut bytes = std::fs::read(format!("{TESTDATA}/signtest/signtest-0.1.0.tgz")).unwrap();
    bytes.push(0);
    std::fs::write(&archive, bytes).unwrap();
    std::fs::copy(
        format!("{TESTDATA}/signtest/signtest-0.1.0.tgz.prov"),
        dir.path().join("signtest-0.1.0.tgz.prov"),
    )
    .unwrap();
    let output = capstan(&["verify", archive.to_str().unwrap(), "--keyring", &keyring()]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("sha256 sum does not match"));
}
