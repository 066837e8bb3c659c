//! The hickory [`RequestHandler`]: protocol checks, EDNS, routing a question
//! to BNS data or an upstream resolver (per namespace [`Policy`]), the cache,
//! and sending the answer.

use std::sync::{atomic::Ordering, Arc};
use std::time::Instant;

use hickory_net::runtime::Time;
use hickory_proto::{
    op::{Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, Query, ResponseCode},
    rr::{DNSClass, Name, RecordType},
};
use hickory_server::{
    server::{Request, RequestHandler, ResponseHandler, ResponseInfo},
    zone_handler::MessageResponseBuilder,
};
use tracing::{debug, warn};

use super::cache::{AnswerCache, Key, Origin};
use super::forward::{Forwarder, Policy, ResolverOptions};
use super::resolve::{resolve, Answer, Resolution};
use super::{DnsStats, NameSource};
use crate::metrics::Metrics;

/// Largest UDP payload this server sends, whatever the client advertises
/// (DNS flag day 2020: avoids IP fragmentation). Larger answers are truncated
/// (TC) over UDP and go whole over TCP.
pub const MAX_UDP_PAYLOAD: u16 = 1232;

/// Answers queries from a [`NameSource`], forwarding the rest.
pub(crate) struct BnsHandler {
    source: Arc<dyn NameSource>,
    options: ResolverOptions,
    forwarder: Option<Forwarder>,
    cache: AnswerCache,
    stats: Arc<DnsStats>,
    metrics: Option<Arc<Metrics>>,
}

impl BnsHandler {
    pub(crate) fn new(source: Arc<dyn NameSource>, options: &ResolverOptions, stats: Arc<DnsStats>) -> Self {
        BnsHandler {
            source,
            forwarder: Forwarder::new(&options.upstreams),
            cache: AnswerCache::new(options.cache_size, stats.clone()),
            options: options.clone(),
            stats,
            metrics: None,
        }
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
        if !self.source.is_namespace(&ns) {
            return None;
        }
        match self.options.policy(&ns) {
            Policy::Icann => None,
            p => Some(p),
        }
    }

    /// Answer from BNS data (cached by generation); `None` if the name is
    /// unregistered and `policy` says to forward such names.
    async fn bns_answer(&self, qname: &Name, qtype: RecordType, policy: Policy) -> Option<Answer> {
        let key = Key::new(qname, u16::from(qtype), Origin::Bns(self.source.generation()));
        let answer = match self.cache.get(&key, qname) {
            Some(a) => a,
            None => {
                // NameSource is synchronous (SQLite): keep it off the async workers.
                let source = self.source.clone();
                let name = qname.clone();
                match tokio::task::spawn_blocking(move || resolve(source.as_ref(), &name, qtype)).await {
                    Ok(Resolution::Answer(answer)) => {
                        self.cache.insert_bns(key, &answer);
                        answer
                    }
                    // Raced with a namespace change: treat as outside.
                    Ok(Resolution::Outside) => return None,
                    Err(error) => {
                        warn!(%error, "name lookup task failed");
                        Answer::new(ResponseCode::ServFail, false)
                    }
                }
            }
        };
        if answer.unregistered && policy == Policy::BnsFirst && self.forwarder.is_some() {
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
        if let Some(m) = &self.metrics {
            let qtype = request.request_info().map(|i| u16::from(i.query.query_type())).unwrap_or(0);
            m.record_dns_query(qtype, u16::from(info.response_code), started.elapsed());
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
        if let Some(policy) = self.route(question.name()) {
            if let Some(answer) = self.bns_answer(question.name(), qtype, policy).await {
                return send_answer(request, answer, edns, response_handle).await;
            }
        }
        outside_bns(self, request, &question, edns, response_handle).await
    }
}

/// The single place deciding what happens to names BNS does not answer:
/// forwarded upstream, or REFUSED when there is no upstream.
async fn outside_bns<R: ResponseHandler>(
    handler: &BnsHandler,
    request: &Request,
    question: &Query,
    edns: Option<&Edns>,
    response_handle: R,
) -> ResponseInfo {
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
