//! Extended DNS Errors (RFC 8914): EDNS option 15, an INFO-CODE (u16, big
//! endian) followed by UTF-8 EXTRA-TEXT. hickory-proto 0.26 has no type for
//! it, so it travels as an unknown EDNS option.

use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};

/// EDNS option code of Extended DNS Errors.
pub const EDE_OPTION: u16 = 15;

/// INFO-CODE 0: Other (used for expired and revoked names, with the reason in the text).
pub const OTHER: u16 = 0;
/// INFO-CODE 14: Not Ready (chain not synced; zone file not yet fetched).
pub const NOT_READY: u16 = 14;
/// INFO-CODE 24: Invalid Data (held zone file does not match its hash or does not parse).
pub const INVALID_DATA: u16 = 24;

/// One Extended DNS Error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ede {
    /// INFO-CODE.
    pub code: u16,
    /// EXTRA-TEXT.
    pub text: String,
}

impl Ede {
    /// An EDE with `code` and `text`.
    pub fn new(code: u16, text: impl Into<String>) -> Self {
        Ede { code, text: text.into() }
    }

    /// The EDNS option carrying it.
    pub fn to_option(&self) -> EdnsOption {
        let mut data = Vec::with_capacity(2 + self.text.len());
        data.extend_from_slice(&self.code.to_be_bytes());
        data.extend_from_slice(self.text.as_bytes());
        EdnsOption::Unknown(EDE_OPTION, data)
    }

    /// Decodes an EDE option (lossy on bad UTF-8); `None` for other options.
    pub fn from_option(option: &EdnsOption) -> Option<Ede> {
        match option {
            EdnsOption::Unknown(EDE_OPTION, data) if data.len() >= 2 => Some(Ede {
                code: u16::from_be_bytes([data[0], data[1]]),
                text: String::from_utf8_lossy(&data[2..]).into_owned(),
            }),
            _ => None,
        }
    }

    /// The EDNS code of the option.
    pub fn edns_code() -> EdnsCode {
        EdnsCode::from(EDE_OPTION)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let e = Ede::new(NOT_READY, "zone file ab not yet fetched");
        let opt = e.to_option();
        match &opt {
            EdnsOption::Unknown(15, data) => assert_eq!(&data[..2], &[0, 14]),
            other => panic!("{other:?}"),
        }
        assert_eq!(Ede::from_option(&opt), Some(e));
        assert_eq!(Ede::from_option(&EdnsOption::Unknown(15, vec![1])), None);
    }
}
