//! Arbitrary bytes -> `Op::decode` in every epoch; anything that decodes must
//! survive `encode` -> `decode` unchanged (and `try_encode` must agree).
#![no_main]

use bns::virtualchain::wire::{Op, MAX_EPOCH, MIN_EPOCH};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for epoch in MIN_EPOCH..=MAX_EPOCH {
        let Ok(op) = Op::decode(data, epoch) else { continue };
        let bytes = op.encode();
        match Op::decode(&bytes, epoch) {
            Ok(again) if again == op => {}
            other => panic!(
                "round trip failed in epoch {epoch}\n input   {}\n decoded {op:?}\n encoded {}\n again   {other:?}",
                hex(data),
                hex(&bytes)
            ),
        }
        assert_eq!(op.try_encode(epoch).as_deref(), Ok(&bytes[..]), "try_encode disagrees in epoch {epoch}");
        assert_eq!(bytes.first(), data.first(), "opcode byte changed");
    }
    // Out-of-range epochs are errors, never panics.
    for epoch in [0, MAX_EPOCH + 1, u8::MAX] {
        assert!(Op::decode(data, epoch).is_err());
    }
});

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
