//! The hickory [`RequestHandler`]: protocol checks, EDNS, and sending the answer.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use hickory_net::runtime::Time;
use hickory_proto::{
    op::{Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode},
    rr::{DNSClass, RecordType},
};
use hickory_server::{
    server::{Request, RequestHandler, ResponseHandler, ResponseInfo},
    zone_handler::MessageResponseBuilder,
};
use tracing::{debug, warn};

use super::resolve::{resolve, Answer, Resolution};
use super::NameSource;
use crate::metrics::Metrics;

/// Where queries are counted: one node per process, so one slot (set by
/// [`super::DnsServer::with_metrics`]); `None` counts nothing.
static METRICS: RwLock<Option<Arc<Metrics>>> = RwLock::new(None);

impl super::DnsServer {
    /// Records every query this process answers (type, rcode, latency) in `metrics`.
    pub fn with_metrics(self, metrics: Arc<Metrics>) -> Self {
        if let Ok(mut slot) = METRICS.write() {
            *slot = Some(metrics);
        }
        self
    }
}

/// Largest UDP payload this server sends, whatever the client advertises
/// (DNS flag day 2020: avoids IP fragmentation). Larger answers are truncated
/// (TC) over UDP and go whole over TCP.
pub const MAX_UDP_PAYLOAD: u16 = 1232;

/// Answers queries from a [`NameSource`].
pub(crate) struct BnsHandler {
    pub(crate) source: Arc<dyn NameSource>,
}

#[async_trait::async_trait]
impl RequestHandler for BnsHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(&self, request: &Request, response_handle: R) -> ResponseInfo {
        let started = Instant::now();
        let info = self.answer(request, response_handle).await;
        if let Some(m) = METRICS.read().ok().and_then(|m| m.clone()) {
            let qtype = request.request_info().map(|i| u16::from(i.query.query_type())).unwrap_or(0);
            m.record_dns_query(qtype, u16::from(info.response_code), started.elapsed());
            if info.response_code == ResponseCode::FormErr {
                m.record_malformed();
            }
        }
        info
    }
}

impl BnsHandler {
    async fn answer<R: ResponseHandler>(&self, request: &Request, response_handle: R) -> ResponseInfo {
        // EDNS (RFC 6891): answer with OPT when asked with OPT.
        let resp_edns = request.edns.as_ref().map(|req| {
            let mut edns = Edns::new();
            edns.set_max_payload(req.max_payload().clamp(512, MAX_UDP_PAYLOAD));
            edns.set_version(0);
            edns
        });
        let edns = resp_edns.as_ref();

        if request.edns.as_ref().is_some_and(|e| e.version() > 0) {
            return send_error(request, ResponseCode::BADVERS, edns, response_handle).await;
        }
        if request.metadata.message_type != MessageType::Query {
            return send_error(request, ResponseCode::FormErr, edns, response_handle).await;
        }
        if request.metadata.op_code != OpCode::Query {
            return send_error(request, ResponseCode::NotImp, edns, response_handle).await;
        }
        let Ok(info) = request.request_info() else {
            // Zero or several questions.
            return send_error(request, ResponseCode::FormErr, edns, response_handle).await;
        };
        let query = info.query;
        if !matches!(query.query_class(), DNSClass::IN | DNSClass::ANY) {
            return send_error(request, ResponseCode::Refused, edns, response_handle).await;
        }
        let qtype = query.query_type();
        if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
            // No zone transfers of namespace zones.
            return send_error(request, ResponseCode::Refused, edns, response_handle).await;
        }

        // NameSource is synchronous (SQLite): keep it off the async workers.
        let source = self.source.clone();
        let qname = query.original().name().clone();
        let resolution = tokio::task::spawn_blocking(move || resolve(source.as_ref(), &qname, qtype)).await;
        match resolution {
            Ok(Resolution::Answer(answer)) => send_answer(request, answer, edns, response_handle).await,
            Ok(Resolution::Outside) => outside_bns(request, edns, response_handle).await,
            Err(error) => {
                warn!(%error, "name lookup task failed");
                send_error(request, ResponseCode::ServFail, edns, response_handle).await
            }
        }
    }
}

/// The single place deciding what happens to names outside every BNS namespace.
///
/// Today: REFUSED. Forwarding to an upstream resolver will hook in here.
async fn outside_bns<R: ResponseHandler>(request: &Request, edns: Option<&Edns>, response_handle: R) -> ResponseInfo {
    send_error(request, ResponseCode::Refused, edns, response_handle).await
}

async fn send_answer<R: ResponseHandler>(
    request: &Request,
    answer: Answer,
    edns: Option<&Edns>,
    mut response_handle: R,
) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.authoritative = answer.authoritative;
    metadata.response_code = answer.rcode;
    let response = MessageResponseBuilder::new(&request.queries, edns).build(
        metadata,
        answer.answers.iter(),
        answer.authorities.iter(),
        std::iter::empty(),
        std::iter::empty(),
    );
    match response_handle.send_response(response).await {
        Ok(info) => info,
        Err(error) => {
            debug!(%error, "failed to send DNS response");
            failed(request)
        }
    }
}

async fn send_error<R: ResponseHandler>(
    request: &Request,
    rcode: ResponseCode,
    edns: Option<&Edns>,
    mut response_handle: R,
) -> ResponseInfo {
    let response = MessageResponseBuilder::new(&request.queries, edns).error_msg(&request.metadata, rcode);
    match response_handle.send_response(response).await {
        Ok(info) => info,
        Err(error) => {
            debug!(%error, "failed to send DNS error response");
            failed(request)
        }
    }
}

/// The [`ResponseInfo`] reported when nothing could be sent.
fn failed(request: &Request) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.response_code = ResponseCode::ServFail;
    ResponseInfo::from(Header { metadata, counts: HeaderCounts::default() })
}
