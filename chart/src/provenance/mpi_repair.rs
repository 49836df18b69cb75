//! Repairs a quirk of provenance files made by Helm's Go OpenPGP code before verifying them.
//!
//! Go's (now frozen) `x/crypto/openpgp` stored an RSA signature as the full modulus-sized byte
//! string and declared its bit length as `8 * bytes`, even when the value's top bits are zero.
//! OpenPGP requires MPIs to be minimal, and sequoia rejects such signatures as malformed, while
//! GnuPG and Go accept them. Helm's own `hashtest-1.2.3.tgz.prov` has this shape. Re-encoding
//! the signature MPIs minimally does not change what was signed or the signature's value, so
//! doing it up front makes these files verifiable without weakening any check.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::borrow::Cow;

const BEGIN: &str = "-----BEGIN PGP SIGNATURE-----";
const END: &str = "-----END PGP SIGNATURE-----";
const SIGNATURE_TAG: u8 = 2;

/// Returns the provenance with every signature MPI minimally encoded, or the input unchanged
/// when nothing needs repair or the signature block cannot be read (the verifier then reports
/// the real problem).
pub(crate) fn normalize_signature_mpis(provenance: &[u8]) -> Cow<'_, [u8]> {
    repaired(provenance).map_or(Cow::Borrowed(provenance), Cow::Owned)
}

fn repaired(provenance: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(provenance).ok()?;
    let begin = text.find(BEGIN)?;
    let end = begin + text[begin..].find(END)?;
    let armored = &text[begin + BEGIN.len()..end];
    // Armor headers (e.g. `Comment:`) end at the first blank line.
    let body = armored
        .split_once("\n\n")
        .or_else(|| armored.split_once("\r\n\r\n"))?
        .1;
    let base64: String = body
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('='))
        .collect();
    let packets = STANDARD.decode(base64).ok()?;
    let fixed = normalize_packets(&packets)?;
    if fixed == packets {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..begin]);
    out.push_str(&armor(&fixed));
    out.push_str(&text[end + END.len()..]);
    Some(out.into_bytes())
}

/// Walks a packet sequence, re-encoding signature packets; `None` if it cannot be parsed.
fn normalize_packets(mut packets: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(packets.len());
    while !packets.is_empty() {
        let (tag, header_len, body_len) = packet_header(packets)?;
        let body = packets.get(header_len..header_len.checked_add(body_len)?)?;
        if tag == SIGNATURE_TAG {
            let body = normalize_signature_body(body)?;
            write_new_format_header(&mut out, tag, body.len());
            out.extend_from_slice(&body);
        } else {
            out.extend_from_slice(&packets[..header_len + body_len]);
        }
        packets = &packets[header_len + body_len..];
    }
    Some(out)
}

/// Returns (tag, header length, body length) for definite-length packets.
fn packet_header(packets: &[u8]) -> Option<(u8, usize, usize)> {
    let first = *packets.first()?;
    if first & 0x80 == 0 {
        return None;
    }
    if first & 0x40 != 0 {
        let tag = first & 0x3f;
        let o1 = usize::from(*packets.get(1)?);
        match o1 {
            0..=191 => Some((tag, 2, o1)),
            192..=223 => Some((
                tag,
                3,
                ((o1 - 192) << 8) + usize::from(*packets.get(2)?) + 192,
            )),
            255 => {
                let bytes: [u8; 4] = packets.get(2..6)?.try_into().ok()?;
                Some((tag, 6, usize::try_from(u32::from_be_bytes(bytes)).ok()?))
            }
            _ => None,
        }
    } else {
        let tag = (first >> 2) & 0x0f;
        let length_bytes = match first & 0x03 {
            0 => 1,
            1 => 2,
            2 => 4,
            _ => return None,
        };
        let length = packets
            .get(1..1 + length_bytes)?
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        Some((tag, 1 + length_bytes, length))
    }
}

fn normalize_signature_body(body: &[u8]) -> Option<Vec<u8>> {
    // Version 4: version, type, public-key algorithm, hash algorithm, hashed subpackets,
    // unhashed subpackets, 2-byte hash prefix, then the algorithm's MPIs.
    if body.first() != Some(&4) {
        return Some(body.to_vec());
    }
    let hashed_len = usize::from(u16::from_be_bytes(body.get(4..6)?.try_into().ok()?));
    let unhashed_at = 6 + hashed_len;
    let unhashed_len = usize::from(u16::from_be_bytes(
        body.get(unhashed_at..unhashed_at + 2)?.try_into().ok()?,
    ));
    let mpis_at = unhashed_at + 2 + unhashed_len + 2;
    let mpi_count = match body[2] {
        1 | 3 => 1,        // RSA
        17 | 19 | 22 => 2, // DSA, ECDSA, legacy EdDSA
        _ => return Some(body.to_vec()),
    };
    let mut out = body.get(..mpis_at)?.to_vec();
    let mut rest = &body[mpis_at..];
    for _ in 0..mpi_count {
        let bits = usize::from(u16::from_be_bytes(rest.get(..2)?.try_into().ok()?));
        let len = bits.div_ceil(8);
        let value = rest.get(2..2 + len)?;
        let trimmed = &value[value.iter().take_while(|&&b| b == 0).count()..];
        let actual_bits = trimmed.first().map_or(0, |&top| {
            (trimmed.len() - 1) * 8 + (8 - top.leading_zeros() as usize)
        });
        out.extend_from_slice(&u16::try_from(actual_bits).ok()?.to_be_bytes());
        out.extend_from_slice(trimmed);
        rest = &rest[2 + len..];
    }
    out.extend_from_slice(rest);
    Some(out)
}

fn write_new_format_header(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(0xc0 | tag);
    match len {
        0..=191 => out.push(len as u8),
        192..=8383 => {
            let value = len - 192;
            out.push((value >> 8) as u8 + 192);
            out.push((value & 0xff) as u8);
        }
        _ => {
            out.push(255);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }
}

fn armor(packets: &[u8]) -> String {
    let encoded = STANDARD.encode(packets);
    let mut out = format!("{BEGIN}\n\n");
    for chunk in encoded.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    let crc = crc24(packets).to_be_bytes();
    out.push('=');
    out.push_str(&STANDARD.encode(&crc[1..]));
    out.push('\n');
    out.push_str(END);
    out
}

/// The armor checksum (RFC 9580 section 6.1).
fn crc24(data: &[u8]) -> u32 {
    let mut crc: u32 = 0x00B7_04CE;
    for &byte in data {
        crc ^= u32::from(byte) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x0100_0000 != 0 {
                crc ^= 0x0186_4CFB;
            }
        }
    }
    crc & 0x00FF_FFFF
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_minimal_rsa_mpi_is_shortened() {
        // v4 RSA signature, no subpackets, prefix AB CD, MPI declared 16 bits with a zero top bit.
        let body = [4, 1, 1, 10, 0, 0, 0, 0, 0xAB, 0xCD, 0, 16, 0x7F, 0xFF];
        let mut packet = vec![0xC2, body.len() as u8];
        packet.extend_from_slice(&body);
        let fixed = normalize_packets(&packet).unwrap();
        assert_eq!(&fixed[2 + 10..], &[0, 15, 0x7F, 0xFF]);
    }

    #[test]
    fn leading_zero_octet_is_dropped_and_length_updated() {
        let body = [4, 1, 1, 10, 0, 0, 0, 0, 0xAB, 0xCD, 0, 16, 0x00, 0x05];
        let mut packet = vec![0xC2, body.len() as u8];
        packet.extend_from_slice(&body);
        let fixed = normalize_packets(&packet).unwrap();
        assert_eq!(fixed[1] as usize, body.len() - 1);
        assert_eq!(&fixed[2 + 10..], &[0, 3, 0x05]);
    }

    #[test]
    fn crc24_matches_known_value() {
        // RFC 4880's reference implementation gives 0x21CF02 for "123456789".
        assert_eq!(crc24(b"123456789"), 0x21CF02);
    }

    #[test]
    fn unreadable_input_is_left_alone() {
        let junk = b"-----BEGIN PGP SIGNATURE-----\n\n!!!\n-----END PGP SIGNATURE-----";
        assert!(matches!(normalize_signature_mpis(junk), Cow::Borrowed(_)));
    }
}
