//! Queries the DNS face asks of a parsed [`ZoneFile`].

use super::name::{is_below, normalize};
use super::{ZoneFile, ZoneRecord};

impl ZoneFile {
    /// The records owned by `owner`, in file order.
    ///
    /// `owner` is absolute; it is compared ASCII-case-insensitively and may
    /// carry one trailing dot (`Werner.ID.` finds `werner.id`).
    pub fn records_for<'a>(&'a self, owner: &str) -> impl Iterator<Item = &'a ZoneRecord> + 'a {
        let owner = normalize(owner);
        self.records.iter().filter(move |r| r.owner.eq_ignore_ascii_case(&owner))
    }

    /// True if some record's owner is a strict descendant of `owner` (same
    /// normalization as [`records_for`](Self::records_for)).
    ///
    /// A name with no records of its own but with names below it (`_tcp.werner.id`
    /// when only `_443._tcp.werner.id` has records) is an empty non-terminal:
    /// it exists, and answers NOERROR with no data rather than NXDOMAIN.
    #[must_use]
    pub fn has_names_below(&self, owner: &str) -> bool {
        let owner = normalize(owner);
        self.records.iter().any(|r| is_below(&r.owner.to_ascii_lowercase(), &owner))
    }
}

#[cfg(test)]
mod tests {
    use crate::zonefile::parse;

    const ZONE: &str = "$ORIGIN werner.id\n$TTL 3600\n@ A 1.2.3.4\n_443._tcp TLSA 3 1 1 00ff\nwww CNAME @\n";

    #[test]
    fn records_for_is_case_insensitive() {
        let zf = parse(ZONE.as_bytes(), None).unwrap();
        let cases = [
            ("werner.id", 1),
            ("WERNER.id.", 1),
            ("_443._TCP.werner.id", 1),
            ("www.werner.id", 1),
            ("_tcp.werner.id", 0),
            ("nope.werner.id", 0),
            ("", 0),
        ];
        for (owner, n) in cases {
            assert_eq!(zf.records_for(owner).count(), n, "{owner}");
        }
    }

    #[test]
    fn empty_non_terminals() {
        let zf = parse(ZONE.as_bytes(), None).unwrap();
        let cases = [
            ("_tcp.werner.id", true),
            ("werner.id", true),
            ("Werner.ID.", true),
            ("id", true),
            ("", true),
            ("_443._tcp.werner.id", false),
            ("www.werner.id", false),
            ("ner.id", false),
            ("other.id", false),
        ];
        for (owner, want) in cases {
            assert_eq!(zf.has_names_below(owner), want, "{owner}");
        }
    }
}
