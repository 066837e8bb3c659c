//! Arbitrary bytes -> a zone file and a DNS query, answered by bns's real
//! request handler (`bns::dns::fuzz_handler`, built only under `cargo fuzz`)
//! and by its fast path (`bns::dns::fuzz_fast`) over an in-memory snapshot. Never panics; whatever the handler sends
//! must decode as a DNS response to the query.
//!
//! Input: `[zone length u16 LE][zone file][flags u8][DNS message]`; flag bit 0
//! picks TCP over UDP (UDP answers are capped at the advertised size).
#![no_main]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bns::dns::snapshot::{ApexConfig, ImageMeta, NameState, Snapshot, SnapshotCell};
use bns::dns::{fuzz_fast, fuzz_handler};
use bns::zonefile::parse;
use hickory_net::runtime::TokioTime;
use hickory_net::xfer::Protocol;
use hickory_net::NetError;
use hickory_proto::op::{Message, MessageType};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::BinEncoder;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use libfuzzer_sys::fuzz_target;

/// A snapshot where names `a`, `b` and `www` of namespaces `id` and `btc`
/// have the fuzzed zone file (parsed with the name as default origin),
/// `missing.*` has a file not fetched yet and `nx.*` is unregistered.
fn snapshot(zone: &[u8]) -> Snapshot {
    let mut names = Vec::new();
    for ns in ["id", "btc"] {
        for n in ["a", "b", "www"] {
            let fqn = format!("{n}.{ns}");
            if let Ok(zf) = parse(zone, Some(&fqn)) {
                names.push((fqn, NameState::Zone(Arc::new(zf)), None));
            }
        }
        names.push((format!("missing.{ns}"), NameState::NotFetched("ab".into()), None));
    }
    let meta = ImageMeta { height: 42, serial: 42, ..ImageMeta::default() };
    Snapshot::build(meta, &["id", "btc"], names, &ApexConfig::default())
}

/// Encodes the response the way hickory's UDP/TCP handle does and keeps it.
#[derive(Clone)]
struct Capture {
    max_size: Option<u16>,
    sent: Arc<Mutex<Vec<Vec<u8>>>>,
}

#[async_trait::async_trait]
impl ResponseHandler for Capture {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let max = self.max_size.unwrap_or(u16::MAX);
        let mut bytes = Vec::new();
        let mut encoder = BinEncoder::new(&mut bytes);
        encoder.set_max_size(max);
        let info = response.destructive_emit(&mut encoder).map_err(NetError::from)?;
        self.sent.lock().expect("lock").push(bytes);
        Ok(info)
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_current_thread().build().expect("runtime"))
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let zone_len = usize::from(u16::from_le_bytes([data[0], data[1]])).min(data.len() - 2);
    let zone = data[2..2 + zone_len].to_vec();
    let rest = &data[2 + zone_len..];
    let Some((&flags, msg)) = rest.split_first() else { return };
    let tcp = flags & 1 == 1;

    // The plain decoder must not panic either.
    let parsed = Message::from_vec(msg);

    let src: SocketAddr = "127.0.0.1:5353".parse().expect("addr");
    let protocol = if tcp { Protocol::Tcp } else { Protocol::Udp };
    let Ok(request) = Request::from_bytes(msg.to_vec(), src, protocol) else { return };
    let max_size = if tcp {
        None
    } else {
        // As hickory's UDP path: the EDNS size the handler answers with, else 512.
        Some(request.edns.as_ref().map_or(512, |e| e.max_payload().clamp(512, bns::dns::MAX_UDP_PAYLOAD)))
    };
    let sent = Arc::new(Mutex::new(Vec::new()));
    let capture = Capture { max_size, sent: sent.clone() };
    let snap = snapshot(&zone);
    // The fast path on the same bytes: never panics, stays within 1232 bytes,
    // and what it writes decodes as a response to this query.
    let mut out = [0u8; 1232];
    if let Some(len) = fuzz_fast(&snap, msg, &mut out) {
        let r = Message::from_vec(&out[..len]).unwrap_or_else(|e| panic!("fast response does not decode: {e}"));
        assert_eq!(r.metadata.message_type, MessageType::Response);
    }
    let handler = fuzz_handler(Arc::new(SnapshotCell::new(snap)));
    runtime().block_on(handler.handle_request::<_, TokioTime>(&request, capture));

    for bytes in sent.lock().expect("lock").iter() {
        if let Some(max) = max_size {
            assert!(bytes.len() <= usize::from(max), "UDP response of {} bytes over {max}", bytes.len());
        }
        let response = Message::from_vec(bytes)
            .unwrap_or_else(|e| panic!("response does not decode: {e}\n request {msg:02x?}\n response {bytes:02x?}"));
        assert_eq!(response.metadata.message_type, MessageType::Response);
        assert_eq!(response.metadata.id, request.metadata.id);
        if let Ok(m) = &parsed {
            assert_eq!(m.metadata.id, response.metadata.id);
        }
    }
});
