//! The writer a template's output goes into: it takes every piece from the render's output
//! allowance as it is written, so a template that writes too much stops at the cap instead of
//! being measured once it is done.

use super::limits::Account;

pub(crate) struct BoundedOutput<'a> {
    account: &'a Account,
    text: Vec<u8>,
    overflowed: bool,
}

impl<'a> BoundedOutput<'a> {
    pub(crate) fn new(account: &'a Account) -> Self {
        BoundedOutput {
            account,
            text: Vec::new(),
            overflowed: false,
        }
    }

    /// Whether a write was refused because the allowance ran out.
    pub(crate) fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// What was written. The engine writes only whole `str` pieces, so this is always UTF-8.
    pub(crate) fn into_text(self) -> String {
        String::from_utf8(self.text)
            .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
    }
}

impl std::io::Write for BoundedOutput<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.overflowed || !self.account.take_output(bytes.len()) {
            self.overflowed = true;
            return Err(std::io::Error::other(
                "the chart's output allowance is used up",
            ));
        }
        self.text.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::RenderLimits;
    use std::io::Write;

    #[test]
    fn writes_stop_at_the_allowance_shared_by_all_outputs() {
        let account = Account::new(&RenderLimits {
            max_output_bytes: 8,
            ..RenderLimits::default()
        });
        let mut first = BoundedOutput::new(&account);
        first.write_all(b"hello").unwrap();
        assert_eq!(first.into_text(), "hello");
        let mut second = BoundedOutput::new(&account);
        assert!(second.write_all(b"world").is_err());
        assert!(second.overflowed());
        assert_eq!(second.into_text(), "");
    }
}
