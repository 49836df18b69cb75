//! Just enough DER and PEM to write the keys and certificates Sprig's certificate functions make
//! (the encodings Go's `crypto/x509` and `encoding/pem` produce) and to read the ones they are
//! given back.

use super::encoding::{base64_decode, base64_encode};

pub(crate) const TAG_BOOLEAN: u8 = 0x01;
pub(crate) const TAG_INTEGER: u8 = 0x02;
pub(crate) const TAG_BIT_STRING: u8 = 0x03;
pub(crate) const TAG_OCTET_STRING: u8 = 0x04;
pub(crate) const TAG_NULL: u8 = 0x05;
pub(crate) const TAG_OID: u8 = 0x06;
pub(crate) const TAG_UTF8_STRING: u8 = 0x0c;
pub(crate) const TAG_PRINTABLE_STRING: u8 = 0x13;
pub(crate) const TAG_UTC_TIME: u8 = 0x17;
pub(crate) const TAG_GENERALIZED_TIME: u8 = 0x18;
pub(crate) const TAG_SEQUENCE: u8 = 0x30;
pub(crate) const TAG_SET: u8 = 0x31;

/// One DER element: tag, definite length, content.
pub(crate) fn element(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

pub(crate) fn sequence(parts: &[Vec<u8>]) -> Vec<u8> {
    element(TAG_SEQUENCE, &parts.concat())
}

/// A non-negative INTEGER from big-endian magnitude bytes (minimal, with a leading zero byte
/// when the top bit is set).
pub(crate) fn unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = magnitude.iter().copied().skip_while(|&b| b == 0).collect();
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|&b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(&trimmed);
    element(TAG_INTEGER, &content)
}

pub(crate) fn small_integer(value: u8) -> Vec<u8> {
    unsigned_integer(&[value])
}

/// An OBJECT IDENTIFIER from its dotted arcs.
pub(crate) fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut content = vec![(arcs[0] * 40 + arcs[1]) as u8];
    for &arc in &arcs[2..] {
        let mut groups = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            groups.push(0x80 | (rest & 0x7f) as u8);
            rest >>= 7;
        }
        groups.reverse();
        content.extend_from_slice(&groups);
    }
    element(TAG_OID, &content)
}

/// A BIT STRING of whole bytes.
pub(crate) fn bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut content = vec![0];
    content.extend_from_slice(bytes);
    element(TAG_BIT_STRING, &content)
}

/// A BIT STRING with its trailing zero bits dropped, as Go's `asn1BitLength` counts them.
pub(crate) fn trimmed_bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut length = bytes.len() * 8;
    'outer: for byte in bytes.iter().rev() {
        for bit in 0..8 {
            if byte >> bit & 1 == 1 {
                break 'outer;
            }
            length -= 1;
        }
    }
    let used = length.div_ceil(8);
    let mut content = vec![(used * 8 - length) as u8];
    content.extend_from_slice(&bytes[..used]);
    element(TAG_BIT_STRING, &content)
}

pub(crate) fn octet_string(bytes: &[u8]) -> Vec<u8> {
    element(TAG_OCTET_STRING, bytes)
}

pub(crate) fn boolean_true() -> Vec<u8> {
    element(TAG_BOOLEAN, &[0xff])
}

pub(crate) fn null() -> Vec<u8> {
    element(TAG_NULL, &[])
}

/// Go's `encoding/asn1` choice for a string: PrintableString when every character allows it,
/// UTF8String otherwise.
pub(crate) fn string(text: &str) -> Vec<u8> {
    let printable = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " '()+,-./:=?*&".contains(c));
    let tag = if printable {
        TAG_PRINTABLE_STRING
    } else {
        TAG_UTF8_STRING
    };
    element(tag, text.as_bytes())
}

/// A context-specific tag: constructed (`[n] EXPLICIT`) or primitive (`[n] IMPLICIT`).
pub(crate) fn context(number: u8, constructed: bool, content: &[u8]) -> Vec<u8> {
    let tag = 0x80 | if constructed { 0x20 } else { 0 } | number;
    element(tag, content)
}

/// A time as Go's `encoding/asn1` writes it: UTCTime from 1950 to 2049, GeneralizedTime
/// otherwise, in UTC to the second. `civil` is `(year, month, day, hour, minute, second)`.
pub(crate) fn time(civil: (i64, u32, u32, u32, u32, u32)) -> Vec<u8> {
    let (year, month, day, hour, minute, second) = civil;
    if (1950..2050).contains(&year) {
        let text = format!(
            "{:02}{month:02}{day:02}{hour:02}{minute:02}{second:02}Z",
            year % 100
        );
        element(TAG_UTC_TIME, text.as_bytes())
    } else {
        let text = format!("{year:04}{month:02}{day:02}{hour:02}{minute:02}{second:02}Z");
        element(TAG_GENERALIZED_TIME, text.as_bytes())
    }
}

/// A DER element read back: its tag, content, and the whole encoding.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Element<'a> {
    pub tag: u8,
    pub content: &'a [u8],
    pub raw: &'a [u8],
}

/// Reads the element at the start of `input`; returns it and what follows.
pub(crate) fn read(input: &[u8]) -> Option<(Element<'_>, &[u8])> {
    let tag = *input.first()?;
    let first = *input.get(1)?;
    let (length, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let bytes = input.get(2..2 + count)?;
        let length = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (length, 2 + count)
    };
    let end = header.checked_add(length)?;
    let raw = input.get(..end)?;
    Some((
        Element {
            tag,
            content: &raw[header..],
            raw,
        },
        &input[end..],
    ))
}

/// The elements inside a constructed element's content.
pub(crate) fn children(content: &[u8]) -> Option<Vec<Element<'_>>> {
    let mut rest = content;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (element, after) = read(rest)?;
        out.push(element);
        rest = after;
    }
    Some(out)
}

/// Go's `pem.EncodeToMemory`: base64 in 64-character lines between BEGIN and END markers.
pub(crate) fn pem_encode(kind: &str, der: &[u8]) -> String {
    let encoded = base64_encode(der);
    let mut out = format!("-----BEGIN {kind}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {kind}-----\n"));
    out
}

/// Go's `pem.Decode` for the first block: its type and bytes (`None` when there is no valid
/// block, as Go returns nil).
pub(crate) fn pem_decode(text: &str) -> Option<(String, Vec<u8>)> {
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let type_end = after.find("-----")?;
        let kind = &after[..type_end];
        let body = &after[type_end + 5..];
        let end_marker = format!("-----END {kind}-----");
        if let Some(end) = body.find(&end_marker) {
            let base64: String = body[..end]
                .lines()
                .filter(|line| !line.contains(':'))
                .flat_map(|line| line.trim().chars())
                .collect();
            if let Ok(bytes) = base64_decode(&base64) {
                return Some((kind.to_string(), bytes));
            }
        }
        rest = after;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_go_asn1() {
        assert_eq!(
            oid(&[1, 2, 840, 113549, 1, 1, 11]),
            [
                0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b
            ]
        );
        assert_eq!(unsigned_integer(&[0x00, 0x80]), [0x02, 0x02, 0x00, 0x80]);
        // Go's key usage digitalSignature|keyEncipherment: 03 02 05 a0.
        assert_eq!(trimmed_bit_string(&[0xa0]), [0x03, 0x02, 0x05, 0xa0]);
        assert_eq!(element(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
    }

    #[test]
    fn pem_round_trips() {
        let text = pem_encode("TEST", &[1, 2, 3]);
        assert_eq!(text, "-----BEGIN TEST-----\nAQID\n-----END TEST-----\n");
        assert_eq!(pem_decode(&text), Some(("TEST".to_string(), vec![1, 2, 3])));
        assert_eq!(pem_decode("no pem"), None);
    }
}
