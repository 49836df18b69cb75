//! Just enough of the ELF format to refuse a binary that cannot run in an image with no C
//! library: one that asks for a program interpreter (a dynamic loader), or is built for another
//! machine. An image with such a binary would fail only when the pod starts, with "no such file
//! or directory".

/// `e_machine` values of the platforms the image can be built for.
const MACHINE_X86_64: u16 = 0x3e;
const MACHINE_AARCH64: u16 = 0xb7;
/// Program header type of the interpreter request.
const PT_INTERP: u32 = 3;
/// Size of the ELF64 file header.
const ELF_HEADER_BYTES: usize = 64;

/// What the ELF headers say about a binary.
#[derive(Debug, PartialEq, Eq)]
pub struct ElfInfo {
    /// The CPU it is built for, as an OCI architecture name (`amd64`, `arm64`) or `e_machine`
    /// in hex for any other.
    pub architecture: String,
    /// The dynamic loader it asks for, when it is not static.
    pub interpreter: Option<String>,
}

/// Reads the ELF headers of a 64-bit little-endian executable; a description of what is wrong
/// otherwise.
pub fn inspect(binary: &[u8]) -> Result<ElfInfo, String> {
    if binary.len() < ELF_HEADER_BYTES || &binary[..4] != b"\x7fELF" {
        return Err("it is not an ELF executable".into());
    }
    if binary[4] != 2 || binary[5] != 1 {
        return Err("it is not a 64-bit little-endian ELF file".into());
    }
    let machine = u16_at(binary, 0x12)?;
    let architecture = match machine {
        MACHINE_X86_64 => "amd64".to_string(),
        MACHINE_AARCH64 => "arm64".to_string(),
        other => format!("e_machine {other:#x}"),
    };
    let table = usize::try_from(u64_at(binary, 0x20)?).map_err(|_| "bad e_phoff")?;
    let entry_size = usize::from(u16_at(binary, 0x36)?);
    let entries = usize::from(u16_at(binary, 0x38)?);
    let mut interpreter = None;
    for index in 0..entries {
        let offset = table
            .checked_add(index * entry_size)
            .ok_or("program header table out of range")?;
        if u32_at(binary, offset)? != PT_INTERP {
            continue;
        }
        let start = usize::try_from(u64_at(binary, offset + 8)?).map_err(|_| "bad p_offset")?;
        let size = usize::try_from(u64_at(binary, offset + 32)?).map_err(|_| "bad p_filesz")?;
        let bytes = binary
            .get(start..start.saturating_add(size))
            .ok_or("the interpreter path is out of range")?;
        let path = bytes.split(|byte| *byte == 0).next().unwrap_or_default();
        interpreter = Some(String::from_utf8_lossy(path).into_owned());
    }
    Ok(ElfInfo {
        architecture,
        interpreter,
    })
}

fn field<const N: usize>(binary: &[u8], offset: usize) -> Result<[u8; N], String> {
    binary
        .get(offset..offset.saturating_add(N))
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| format!("it ends inside its headers (offset {offset:#x})"))
}

fn u16_at(binary: &[u8], offset: usize) -> Result<u16, String> {
    field(binary, offset).map(u16::from_le_bytes)
}

fn u32_at(binary: &[u8], offset: usize) -> Result<u32, String> {
    field(binary, offset).map(u32::from_le_bytes)
}

fn u64_at(binary: &[u8], offset: usize) -> Result<u64, String> {
    field(binary, offset).map(u64::from_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The binary of this test: built for the host (glibc), so dynamically linked.
    fn this_test_binary() -> Vec<u8> {
        std::fs::read(std::env::current_exe().unwrap()).unwrap()
    }

    #[test]
    fn a_glibc_binary_asks_for_its_loader() {
        let info = inspect(&this_test_binary()).unwrap();
        let expected = if cfg!(target_arch = "x86_64") {
            "amd64"
        } else {
            "arm64"
        };
        assert_eq!(info.architecture, expected);
        let interpreter = info.interpreter.expect("a dynamically linked test binary");
        assert!(interpreter.starts_with("/lib"), "{interpreter}");
    }

    #[test]
    fn anything_else_is_refused_with_a_reason() {
        assert_eq!(
            inspect(b"#!/bin/sh\necho hi\n").unwrap_err(),
            "it is not an ELF executable"
        );
        let mut truncated = this_test_binary();
        truncated.truncate(70);
        assert!(
            inspect(&truncated)
                .unwrap_err()
                .contains("ends inside its headers")
        );
    }
}
