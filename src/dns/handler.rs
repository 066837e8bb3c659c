//! The hickory [`RequestHandler`]: protocol checks, EDNS, routing a question
//! to BNS data or an upstream resolver (per namespace [`Policy`]), the cache,
//! and sending the answer.

use std::sync::{atomic::Ordering, Arc};
use std::time::Instant;

use hickory_net::{
    runtime::{Time, TokioTime},
    xfer::Protocol,
};
use hickory_proto::{
    op::{Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, Query, ResponseCode},
    rr::{DNSClass, Name, Record, RecordType},
    serialize::binary::{BinDecodable, BinDecoder, BinEncoder},
};
use hickory_server::{
    server::{Request, RequestHandler, ResponseHandler, ResponseInfo},
    zone_handler::MessageResponseBuilder,
};
use tracing::{debug, info};

use super::cache::{AnswerCache, Key, Origin};
use super::ede::Ede;
use super::forward::{Forwarder, Policy, ResolverOptions};
use super::resolve::{localhost, resolve, Answer, Resolution};
use super::snapshot::SnapshotCell;
use super::udp::SlowQuery;
use super::DnsStats;
use crate::metrics::Metrics;

/// Largest UDP payload this server sends, whatever the client advertises
/// (DNS flag day 2020: avoids IP fragmentation). Larger answers are truncated
/// (TC) over UDP and go whole over TCP.
pub const MAX_UDP_PAYLOAD: u16 = 1232;

/// Answers queries from the current snapshot, forwarding the rest.
pub(crate) struct BnsHandler {
    cell: Arc<SnapshotCell>,
    options: ResolverOptions,
    forwarder: Option<Forwarder>,
    cache: AnswerCache,
    stats: Arc<DnsStats>,
    metrics: Option<Arc<Metrics>>,
    dnssec: Option<Arc<super::dnssec::Online>>,
    log_queries: bool,
    transfers: Arc<super::xfr::Transfers>,
}

impl BnsHandler {
    pub(crate) fn new(cell: Arc<SnapshotCell>, options: &ResolverOptions, stats: Arc<DnsStats>) -> Self {
        BnsHandler {
            cell,
            forwarder: Forwarder::new(options),
            cache: AnswerCache::new(options.cache_size, stats.clone()),
            options: options.clone(),
            stats,
            metrics: None,
            dnssec: None,
            log_queries: false,
            transfers: Arc::default(),
        }
    }

    /// Who may transfer namespace zones.
    pub(crate) fn with_transfers(mut self, transfers: Arc<super::xfr::Transfers>) -> Self {
        self.transfers = transfers;
        self
    }

    /// Who may transfer namespace zones.
    pub(crate) fn transfers(&self) -> &super::xfr::Transfers {
        &self.transfers
    }

    /// The snapshot cell answers come from.
    pub(crate) fn with_dnssec(mut self, dnssec: Option<Arc<super::dnssec::Online>>) -> Self {
        self.dnssec = dnssec;
        self
    }

    pub(crate) fn dnssec(&self) -> Option<&super::dnssec::Online> {
        self.dnssec.as_deref()
    }

    pub(crate) fn options(&self) -> &super::forward::ResolverOptions {
        &self.options
    }

    pub(crate) fn metrics(&self) -> Option<&Metrics> {
        self.metrics.as_deref()
    }

    pub(crate) fn cell(&self) -> &SnapshotCell {
        &self.cell
    }

    /// Logs every query at INFO (target `bns::dns::query`).
    pub(crate) fn with_query_log(mut self, on: bool) -> Self {
        self.log_queries = on;
        self
    }

    /// The counters this handler keeps.
    pub(crate) fn stats(&self) -> &DnsStats {
        &self.stats
    }

    /// True if an upstream resolver is configured.
    pub(crate) fn has_forwarder(&self) -> bool {
        self.forwarder.is_some()
    }

    /// Records every answered query (type, rcode, latency) in `metrics`.
    pub(crate) fn with_metrics(mut self, metrics: Option<Arc<Metrics>>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The policy in effect for `qname`: `None` if it lies outside every BNS
    /// namespace (or in an `icann` one), i.e. it is forwarded.
    fn route(&self, qname: &Name) -> Option<Policy> {
        let last = qname.iter().next_back()?;
        let ns = std::str::from_utf8(last).ok()?.to_ascii_lowercase();
        if !self.cell.load().is_namespace(&ns) {
            return None;
        }
        match self.options.policy(&ns) {
            Policy::Icann => None,
            p => Some(p),
        }
    }

    /// Answer from BNS data (the snapshot: nothing to cache); `None` if the
    /// name is unregistered and `policy` says to forward such names.
    fn bns_answer(&self, qname: &Name, qtype: RecordType, policy: Policy, may_forward: bool) -> Option<Answer> {
        let snap = self.cell.load();
        let answer = match resolve(&snap, qname, qtype) {
            Resolution::Answer(answer) => answer,
            // Raced with a namespace change: treat as outside.
            Resolution::Outside => return None,
        };
        if answer.unregistered && policy == Policy::BnsFirst && self.forwarder.is_some() && may_forward {
            return None;
        }
        Some(answer)
    }

    /// Answer from the upstream resolvers (cached by TTL); `None` without upstreams.
    async fn forwarded_answer(&self, query: &Query, dnssec_ok: bool) -> Option<Answer> {
        let forwarder = self.forwarder.as_ref()?;
        let qname = query.name();
        let key = Key::new(qname, u16::from(query.query_type()), Origin::Upstream { dnssec_ok });
        if let Some(hit) = self.cache.get(&key, qname) {
            return Some(hit);
        }
        self.stats.forwarded.fetch_add(1, Ordering::Relaxed);
        let f = forwarder.forward(query.clone(), dnssec_ok).await;
        if !f.answered {
            self.stats.forward_errors.fetch_add(1, Ordering::Relaxed);
        }
        let answer = Answer {
            recursion_available: true,
            answers: f.answers,
            authorities: f.authorities,
            additionals: f.additionals,
            ede: f.ede,
            ..Answer::new(f.rcode, false)
        };
        if f.answered {
            self.cache.insert_forwarded(key, &answer);
        }
        Some(answer)
    }
}

#[async_trait::async_trait]
impl RequestHandler for BnsHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(&self, request: &Request, response_handle: R) -> ResponseInfo {
        let started = Instant::now();
        let info = self.answer(request, response_handle).await;
        let qtype = request.request_info().map(|i| u16::from(i.query.query_type())).unwrap_or(0);
        if let Some(m) = &self.metrics {
            m.record_dns_query(qtype, u16::from(info.response_code), started.elapsed());
        }
        if self.log_queries {
            let qname = request.request_info().map(|i| i.query.original().name().to_string()).unwrap_or_default();
            info!(target: "bns::dns::query", src = %request.src(), protocol = %request.protocol(), %qname, qtype,
                rcode = u16::from(info.response_code), "query");
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
            // RFC 3225: the DO bit is copied into the response.
            edns.set_dnssec_ok(req.flags().dnssec_ok);
            edns
        });
        let edns = resp_edns.as_ref();

        let malformed = || {
            self.stats.malformed.fetch_add(1, Ordering::Relaxed);
        };
        if request.edns.as_ref().is_some_and(|e| e.version() > 0) {
            malformed();
            return send_error(request, ResponseCode::BADVERS, edns, response_handle).await;
        }
        if request.metadata.message_type != MessageType::Query {
            malformed();
            return send_error(request, ResponseCode::FormErr, edns, response_handle).await;
        }
        if request.metadata.op_code != OpCode::Query {
            malformed();
            return send_error(request, ResponseCode::NotImp, edns, response_handle).await;
        }
        let Ok(info) = request.request_info() else {
            // Zero or several questions.
            malformed();
            return send_error(request, ResponseCode::FormErr, edns, response_handle).await;
        };
        let query = info.query;
        if !matches!(query.query_class(), DNSClass::IN | DNSClass::ANY) {
            malformed();
            return send_error(request, ResponseCode::Refused, edns, response_handle).await;
        }
        let qtype = query.query_type();
        if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
            // No zone transfers of namespace zones.
            return send_error(request, ResponseCode::Refused, edns, response_handle).await;
        }

        let question = query.original().clone();
        if let Some(answer) = localhost(question.name(), qtype) {
            return send_answer(request, answer, edns, response_handle).await;
        }
        let may_forward = self.options.may_recurse(request.src().ip());
        if let Some(policy) = self.route(question.name()) {
            if let Some(answer) = self.bns_answer(question.name(), qtype, policy, may_forward) {
                return send_answer(request, answer, edns, response_handle).await;
            }
        }
        outside_bns(self, request, &question, edns, response_handle, may_forward).await
    }
}

/// The single place deciding what happens to names BNS does not answer:
/// forwarded upstream, or REFUSED when there is no upstream or the client is
/// not in `--allow-recursion` (with EDE 18, Prohibited).
async fn outside_bns<R: ResponseHandler>(
    handler: &BnsHandler,
    request: &Request,
    question: &Query,
    edns: Option<&Edns>,
    response_handle: R,
    may_forward: bool,
) -> ResponseInfo {
    if !may_forward && handler.forwarder.is_some() {
        handler.stats.recursion_refused.fetch_add(1, Ordering::Relaxed);
        let answer = Answer {
            ede: Some(Ede::new(18, "recursion not allowed for this client")),
            ..Answer::new(ResponseCode::Refused, false)
        };
        return send_answer(request, answer, edns, response_handle).await;
    }
    let dnssec_ok = request.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
    match handler.forwarded_answer(question, dnssec_ok).await {
        Some(answer) => send_answer(request, answer, edns, response_handle).await,
        None => send_error(request, ResponseCode::Refused, edns, response_handle).await,
    }
}

async fn send_answer<R: ResponseHandler>(
    request: &Request,
    answer: Answer,
    edns: Option<&Edns>,
    mut response_handle: R,
) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.authoritative = answer.authoritative;
    metadata.recursion_available = answer.recursion_available;
    metadata.response_code = answer.rcode;
    // RFC 8914: the EDE rides in the OPT record, so only when the client sent one.
    let with_ede;
    let edns = match (edns, &answer.ede) {
        (Some(e), Some(ede)) => {
            let mut e = e.clone();
            e.options_mut().insert(ede.to_option());
            with_ede = e;
            Some(&with_ede)
        }
        (e, _) => e,
    };
    let response = MessageResponseBuilder::new(&request.queries, edns).build(
        metadata,
        answer.answers.iter(),
        answer.authorities.iter(),
        std::iter::empty(),
        answer.additionals.iter().filter(|r| r.record_type() != RecordType::OPT),
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

/// Slow-path UDP queries answered at once, at most; while that many wait
/// (e.g. for upstreams), the queue fills and the workers drop new ones.
const SLOW_IN_FLIGHT: usize = 1024;

/// Answers, one task each, the UDP queries the fast path handed over.
pub(crate) async fn serve_slow_udp(handler: Arc<BnsHandler>, mut rx: tokio::sync::mpsc::Receiver<SlowQuery>) {
    let in_flight = Arc::new(tokio::sync::Semaphore::new(SLOW_IN_FLIGHT));
    while let Some(q) = rx.recv().await {
        let Ok(permit) = in_flight.clone().acquire_owned().await else { return };
        let handler = handler.clone();
        tokio::spawn(async move {
            slow_udp(&handler, q).await;
            drop(permit);
        });
    }
}

/// What hickory's UDP server does with one datagram: drop responses, FORMERR
/// what does not decode, hand the rest to the handler.
async fn slow_udp(handler: &BnsHandler, q: SlowQuery) {
    let sink = SocketSink { socket: q.socket.clone(), dst: q.src };
    let header = {
        let mut d = BinDecoder::new(&q.packet);
        match Header::read(&mut d) {
            Ok(h) => h,
            Err(_) => return,
        }
    };
    if header.metadata.message_type == MessageType::Response {
        return;
    }
    if let Some(reply) = super::xfr::serve::udp_answer(&handler.cell, &handler.transfers, &q.packet, q.src.ip()) {
        sink.send(reply);
        return;
    }
    let mut head = [0u8; 12];
    head.copy_from_slice(&q.packet[..12]);
    match Request::from_bytes(q.packet, q.src, Protocol::Udp) {
        Ok(request) => {
            handler.handle_request::<_, TokioTime>(&request, Responder(sink)).await;
        }
        Err(_) => sink.send(formerr(handler, &head).to_vec()),
    }
}

/// What hickory's servers send for a message that does not decode: FORMERR
/// with the request's ID, opcode, RD and CD, no question echoed.
pub(crate) fn formerr(handler: &BnsHandler, packet: &[u8]) -> [u8; 12] {
    handler.stats.malformed.fetch_add(1, Ordering::Relaxed);
    let mut reply = [0u8; 12];
    let Ok(header) = Header::read(&mut BinDecoder::new(packet)) else { return reply };
    let m = Metadata::response_from_request(&header.metadata);
    let mut flags: u16 = 0x8000 | (u16::from(u8::from(m.op_code)) << 11) | 1;
    if m.recursion_desired {
        flags |= 0x0100;
    }
    if m.checking_disabled {
        flags |= 0x0010;
    }
    reply[..2].copy_from_slice(&m.id.to_be_bytes());
    reply[2..4].copy_from_slice(&flags.to_be_bytes());
    reply
}

/// Where an encoded response goes, and how big it may be.
pub(crate) trait ResponseSink: Clone + Send + Sync + Unpin + 'static {
    /// Takes one encoded response.
    fn send(&self, datagram: Vec<u8>);
    /// The largest response for a client that advertised `edns_payload`:
    /// over UDP that payload (512 without EDNS), TC beyond.
    fn max_size(&self, edns_payload: Option<u16>) -> u16 {
        edns_payload.unwrap_or(512)
    }
}

/// A worker's socket and the client to answer.
#[derive(Clone)]
struct SocketSink {
    socket: Arc<std::net::UdpSocket>,
    dst: std::net::SocketAddr,
}

impl ResponseSink for SocketSink {
    fn send(&self, datagram: Vec<u8>) {
        if let Err(error) = self.socket.send_to(&datagram, self.dst) {
            debug!(%error, dst = %self.dst, "UDP send failed");
        }
    }
}

/// The response a TCP or TLS connection gets, once the handler sent it:
/// whole, up to 65,535 bytes.
#[derive(Clone, Default)]
pub(crate) struct Collected(Arc<std::sync::Mutex<Option<Vec<u8>>>>);

impl Collected {
    /// The response, if one was sent.
    pub(crate) fn take(&self) -> Option<Vec<u8>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

impl ResponseSink for Collected {
    fn send(&self, response: Vec<u8>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(response);
    }
    fn max_size(&self, _: Option<u16>) -> u16 {
        u16::MAX
    }
}

/// Hands a hickory response to a [`ResponseSink`], sized as hickory's own servers
/// size it ([`ResponseSink::max_size`]).
#[derive(Clone)]
pub(crate) struct Responder<S: ResponseSink>(pub S);

#[async_trait::async_trait]
impl<S: ResponseSink> ResponseHandler for Responder<S> {
    async fn send_response<'a>(
        &mut self,
        response: hickory_server::zone_handler::MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, hickory_net::NetError> {
        let max = self.0.max_size(response.edns().map(|e| e.max_payload()));
        let (info, bytes) = encode(response, max).map_err(hickory_net::NetError::from)?;
        self.0.send(bytes);
        Ok(info)
    }
}

/// Encodes a response as hickory's servers do: at most `max` bytes (for UDP
/// the client's EDNS payload, 512 without EDNS), truncated (TC) beyond.
fn encode<'q, 'a, A, N, S, D>(
    response: hickory_server::zone_handler::MessageResponse<'q, 'a, A, N, S, D>,
    max: u16,
) -> Result<(ResponseInfo, Vec<u8>), hickory_proto::ProtoError>
where
    A: Iterator<Item = &'a Record> + Send + 'a,
    N: Iterator<Item = &'a Record> + Send + 'a,
    S: Iterator<Item = &'a Record> + Send + 'a,
    D: Iterator<Item = &'a Record> + Send + 'a,
{
    let mut bytes = Vec::with_capacity(512);
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_max_size(max);
    let info = response.destructive_emit(&mut encoder)?;
    Ok((info, bytes))
}
