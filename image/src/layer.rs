//! The image's one layer: a tar of the root filesystem, gzip-compressed, whose bytes depend on
//! nothing but the files and one time.
//!
//! What would otherwise differ between two builds of the same sources is pinned: entries are
//! sorted by path, every directory is listed explicitly, owners are root (uid and gid 0, no
//! names), modes come from [`RootFile::mode`] (0755 for directories), every modification time is
//! the given `mtime` (the build's `SOURCE_DATE_EPOCH`), and the gzip header carries no time, no
//! file name and an "unknown" operating system.

use std::collections::BTreeMap;
use std::io::Write;

use flate2::{Compression, GzBuilder};
use sha2::{Digest, Sha256};

use crate::ImageError;
use crate::rootfs::RootFile;

/// The media type of a gzip-compressed OCI layer.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// A packed layer.
pub struct Layer {
    /// The uncompressed tar; its digest is the layer's `diff_id` in the image config.
    pub tar: Vec<u8>,
    /// What is pushed; its digest names the blob.
    pub gzip: Vec<u8>,
}

impl Layer {
    /// `sha256:<hex>` of the uncompressed tar.
    pub fn diff_id(&self) -> String {
        sha256(&self.tar)
    }

    /// `sha256:<hex>` of the compressed blob.
    pub fn digest(&self) -> String {
        sha256(&self.gzip)
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// An entry of the tar: a directory (no contents) or a regular file.
enum Entry<'a> {
    Directory,
    File(&'a RootFile),
}

/// Packs `files` (and the directories their paths imply) into a layer dated `mtime` (seconds
/// since the Unix epoch).
pub fn pack(files: &[RootFile], mtime: u64) -> Result<Layer, ImageError> {
    let tar = tar_of(files, mtime).map_err(ImageError::Pack)?;
    let mut encoder = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), Compression::best());
    encoder.write_all(&tar).map_err(ImageError::Pack)?;
    let gzip = encoder.finish().map_err(ImageError::Pack)?;
    Ok(Layer { tar, gzip })
}

fn tar_of(files: &[RootFile], mtime: u64) -> std::io::Result<Vec<u8>> {
    // Directories are keyed with their trailing slash, so each sorts right before its contents.
    let mut entries: BTreeMap<String, Entry<'_>> = BTreeMap::new();
    for file in files {
        let mut parent = file.path.as_str();
        while let Some((directory, _)) = parent.rsplit_once('/') {
            entries.insert(format!("{directory}/"), Entry::Directory);
            parent = directory;
        }
        entries.insert(file.path.clone(), Entry::File(file));
    }
    let mut builder = tar::Builder::new(Vec::new());
    for (path, entry) in &entries {
        let mut header = tar::Header::new_ustar();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        match entry {
            Entry::Directory => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                builder.append_data(&mut header, path, std::io::empty())?;
            }
            Entry::File(file) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(file.mode);
                header.set_size(file.contents.len() as u64);
                builder.append_data(&mut header, path, file.contents.as_slice())?;
            }
        }
    }
    builder.into_inner()
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn files() -> Vec<RootFile> {
        vec![
            RootFile {
                path: "usr/local/bin/tool".into(),
                mode: 0o755,
                contents: b"\x7fELF binary".to_vec(),
            },
            RootFile {
                path: "etc/passwd".into(),
                mode: 0o644,
                contents: b"root:x:0:0::/:/sbin/nologin\n".to_vec(),
            },
        ]
    }

    /// (path, type, mode, uid, gid, mtime, owner names) of each entry, in order.
    fn listing(layer: &Layer) -> Vec<(String, char, u32, u64, u64, u64, String)> {
        let mut gunzipped = Vec::new();
        flate2::read::GzDecoder::new(layer.gzip.as_slice())
            .read_to_end(&mut gunzipped)
            .unwrap();
        assert_eq!(gunzipped, layer.tar);
        let mut archive = tar::Archive::new(layer.tar.as_slice());
        archive
            .entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let header = entry.header();
                let kind = if header.entry_type().is_dir() {
                    'd'
                } else {
                    'f'
                };
                let names = format!(
                    "{:?}{:?}",
                    header.username().unwrap(),
                    header.groupname().unwrap()
                );
                (
                    entry.path().unwrap().to_string_lossy().into_owned(),
                    kind,
                    header.mode().unwrap(),
                    header.uid().unwrap(),
                    header.gid().unwrap(),
                    header.mtime().unwrap(),
                    names,
                )
            })
            .collect()
    }

    #[test]
    fn entries_are_sorted_dated_and_owned_by_root() {
        let layer = pack(&files(), 1_700_000_000).unwrap();
        let entries = listing(&layer);
        let paths: Vec<(&str, char, u32)> = entries
            .iter()
            .map(|(path, kind, mode, ..)| (path.as_str(), *kind, *mode))
            .collect();
        assert_eq!(
            paths,
            [
                ("etc/", 'd', 0o755),
                ("etc/passwd", 'f', 0o644),
                ("usr/", 'd', 0o755),
                ("usr/local/", 'd', 0o755),
                ("usr/local/bin/", 'd', 0o755),
                ("usr/local/bin/tool", 'f', 0o755),
            ]
        );
        for (path, _, _, uid, gid, mtime, names) in &entries {
            assert_eq!((*uid, *gid, *mtime), (0, 0, 1_700_000_000), "{path}");
            assert_eq!(names, "Some(\"\")Some(\"\")", "{path}");
        }
    }

    #[test]
    fn the_same_files_give_the_same_bytes_whatever_their_order() {
        let mut reversed = files();
        reversed.reverse();
        let first = pack(&files(), 1_700_000_000).unwrap();
        let second = pack(&reversed, 1_700_000_000).unwrap();
        assert_eq!(first.digest(), second.digest());
        assert_eq!(first.diff_id(), second.diff_id());
        // The gzip header holds no time: bytes 4..8 are zero, byte 9 says "unknown OS".
        assert_eq!(&first.gzip[4..8], &[0, 0, 0, 0]);
        assert_eq!(first.gzip[9], 255);
        let later = pack(&files(), 1_700_000_001).unwrap();
        assert_ne!(first.diff_id(), later.diff_id());
    }
}
