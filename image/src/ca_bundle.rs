//! The image's CA bundle: Mozilla's root certificates as the `webpki-root-certs` crate ships them
//! (generated from CCADB's report of the certificates Mozilla includes for TLS servers), written as
//! PEM. The crate's version is pinned by Cargo.lock, so the bundle changes only when the lock file
//! does, and building the image twice gives the same bundle. The operator reads it through
//! `SSL_CERT_FILE` to reach chart repositories and registries over HTTPS.

use base64::Engine;

/// Where the bundle goes in the image: the path Debian uses and TLS libraries look at first.
pub const BUNDLE_PATH: &str = "etc/ssl/certs/ca-certificates.crt";

/// Characters of base64 per PEM line (RFC 7468).
const PEM_LINE: usize = 64;

/// Every root certificate, in the crate's order, as concatenated PEM blocks.
pub fn mozilla_roots_pem() -> String {
    let mut pem = String::new();
    for certificate in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        let encoded = base64::engine::general_purpose::STANDARD.encode(certificate.as_ref());
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in encoded.as_bytes().chunks(PEM_LINE) {
            // Base64 is ASCII, so every chunk is valid UTF-8.
            pem.push_str(std::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    pem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_root_is_one_pem_block_that_decodes_to_it() {
        let pem = mozilla_roots_pem();
        let blocks: Vec<&str> = pem
            .split("-----END CERTIFICATE-----\n")
            .filter(|block| !block.is_empty())
            .collect();
        assert_eq!(blocks.len(), webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
        // Mozilla includes well over a hundred roots; a handful would mean a broken source.
        assert!(blocks.len() > 100, "{} roots", blocks.len());
        for (block, certificate) in blocks.iter().zip(webpki_root_certs::TLS_SERVER_ROOT_CERTS) {
            let body = block
                .strip_prefix("-----BEGIN CERTIFICATE-----\n")
                .expect("each block starts with its header");
            assert!(body.lines().all(|line| line.len() <= PEM_LINE));
            let der = base64::engine::general_purpose::STANDARD
                .decode(body.replace('\n', ""))
                .unwrap();
            assert_eq!(der, certificate.as_ref());
        }
    }
}
