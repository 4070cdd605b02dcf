//! Browser transports. Each one turns its browser API into [`TransportEvent`]s on a channel
//! and takes frames to send; none of them knows the hub protocol.
//!
//! * WebSockets: full duplex, text frames for JSON, binary for MessagePack;
//! * Server-Sent Events: `EventSource` to receive (text only), `fetch` POST to send;
//! * Long Polling: a loop of `fetch` GETs (abortable; 204 ends), POST to send, DELETE to stop.

use std::cell::Cell;
use std::rc::Rc;

use futures::channel::mpsc::{unbounded, UnboundedSender};
use futures::StreamExt;
use gloo_net::http::{Method, RequestBuilder};
use js_sys::{JsString, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{
    AbortController, BinaryType, CloseEvent, EventSource, EventSourceInit, MessageEvent, RequestCredentials, WebSocket,
};

use crate::negotiate::{append_access_token, websocket_url, TransportKind};
use crate::protocol::{Frame, TransferFormat};
use crate::url::append_query;

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// The browser's `TextEncoder`, with `encodeInto` taking a JS string as it is (web-sys
    /// takes `&str`, which would copy the text into wasm first).
    #[wasm_bindgen(js_name = TextEncoder)]
    type Utf8Encoder;
    #[wasm_bindgen(constructor, js_class = "TextEncoder")]
    fn new() -> Utf8Encoder;
    #[wasm_bindgen(method, js_name = encodeInto)]
    fn encode_into(this: &Utf8Encoder, source: &JsString, destination: &mut [u8]) -> EncodeIntoResult;
    type EncodeIntoResult;
    #[wasm_bindgen(method, getter)]
    fn read(this: &EncodeIntoResult) -> u32;
    #[wasm_bindgen(method, getter)]
    fn written(this: &EncodeIntoResult) -> u32;
}

thread_local! {
    static ENCODER: Utf8Encoder = Utf8Encoder::new();
}

/// The UTF-8 bytes of a JS string, written into wasm memory by the browser's
/// `TextEncoder.encodeInto`. wasm-bindgen's `as_string` copies ASCII text with a JS loop, one
/// char at a time: in the decode benchmark that loop alone took half the time
/// `@microsoft/signalr` needs to parse the same frames.
pub fn utf8_bytes(text: &JsString) -> Vec<u8> {
    let units = text.length() as usize;
    // ASCII (all our JSON) fits in one byte per UTF-16 unit.
    let mut bytes = vec![0; units];
    ENCODER.with(|encoder| {
        let first = encoder.encode_into(text, &mut bytes);
        let (read, mut written) = (first.read() as usize, first.written() as usize);
        if read < units {
            // Not ASCII: the rest takes at most three bytes per unit.
            bytes.resize(written + (units - read) * 3, 0);
            written +=
                encoder.encode_into(&text.slice(read as u32, units as u32), &mut bytes[written..]).written() as usize;
        }
        bytes.truncate(written);
    });
    bytes
}

/// What a transport reports.
#[derive(Debug)]
pub enum TransportEvent {
    /// The transport is connected and can send; the handshake goes next.
    Open,
    /// Bytes received: one or more hub records, possibly cut anywhere.
    Data(Vec<u8>),
    /// The transport ended; `String` says why.
    Closed(String),
}

/// How to reach the connection.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The connect URL (`...?hub=..&id=<connectionToken>`).
    pub url: String,
    /// Bearer token: an `Authorization` header on HTTP requests, the `access_token` query
    /// parameter for WebSocket and EventSource (which cannot set headers).
    pub access_token: Option<String>,
    /// Send cookies with HTTP requests, and with EventSource.
    pub with_credentials: bool,
    /// Text or binary, as the hub protocol needs; sets the send requests' content type.
    pub format: TransferFormat,
}

/// A started transport. Dropping it stops it.
pub enum Transport {
    /// A browser WebSocket.
    WebSockets(WebSocketTransport),
    /// An EventSource to receive, POSTs to send.
    ServerSentEvents(SseTransport),
    /// A loop of GETs to receive, POSTs to send.
    LongPolling(LongPollingTransport),
}

impl Transport {
    /// Starts `kind`; events arrive on `events`, the first being `Open` or `Closed`.
    pub fn start(
        kind: TransportKind,
        endpoint: &Endpoint,
        events: UnboundedSender<TransportEvent>,
    ) -> Result<Self, String> {
        Ok(match kind {
            TransportKind::WebSockets => Transport::WebSockets(WebSocketTransport::open(endpoint, events)?),
            TransportKind::ServerSentEvents => Transport::ServerSentEvents(SseTransport::open(endpoint, events)?),
            TransportKind::LongPolling => Transport::LongPolling(LongPollingTransport::open(endpoint, events)?),
        })
    }

    /// Which transport this is.
    pub fn kind(&self) -> TransportKind {
        match self {
            Transport::WebSockets(_) => TransportKind::WebSockets,
            Transport::ServerSentEvents(_) => TransportKind::ServerSentEvents,
            Transport::LongPolling(_) => TransportKind::LongPolling,
        }
    }

    /// Sends a frame: at once on a WebSocket, queued for the next POST otherwise (a failed
    /// POST is reported as [`TransportEvent::Closed`]). `Err` when the transport is closed.
    pub fn send(&self, frame: Frame) -> Result<(), String> {
        match self {
            Transport::WebSockets(ws) => ws.send(&frame),
            Transport::ServerSentEvents(sse) => sse.sender.send(frame),
            Transport::LongPolling(lp) => lp.sender.send(frame),
        }
    }
}

/// The `open` callback of a browser transport: reports `Open` and remembers that it opened
/// (a close before that is a failure to connect, and says so).
fn open_handler(events: &UnboundedSender<TransportEvent>) -> (Rc<Cell<bool>>, Closure<dyn FnMut()>) {
    let opened = Rc::new(Cell::new(false));
    let (tx, flag) = (events.clone(), opened.clone());
    let on_open = Closure::<dyn FnMut()>::new(move || {
        flag.set(true);
        let _ = tx.unbounded_send(TransportEvent::Open);
    });
    (opened, on_open)
}

fn js_error(context: &str, error: wasm_bindgen::JsValue) -> String {
    format!("{context}: {}", error.as_string().unwrap_or_else(|| format!("{error:?}")))
}

/// A browser WebSocket whose callbacks feed a channel.
pub struct WebSocketTransport {
    socket: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl WebSocketTransport {
    fn open(endpoint: &Endpoint, events: UnboundedSender<TransportEvent>) -> Result<Self, String> {
        let url = websocket_url(&endpoint.url, endpoint.access_token.as_deref());
        let socket = WebSocket::new(&url).map_err(|e| js_error("cannot open WebSocket", e))?;
        socket.set_binary_type(BinaryType::Arraybuffer);
        let (opened, on_open) = open_handler(&events);
        let tx = events.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let data = event.data();
            let bytes = match data.dyn_ref::<JsString>() {
                Some(text) => utf8_bytes(text),
                None => Uint8Array::new(&data).to_vec(),
            };
            let _ = tx.unbounded_send(TransportEvent::Data(bytes));
        });
        let tx = events;
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            let reason = if !opened.get() {
                "WebSocket failed to connect (the server, a proxy or a firewall refused it)".to_string()
            } else if event.reason().is_empty() {
                format!("WebSocket closed with status code {}", event.code())
            } else {
                format!("WebSocket closed with status code {} ({})", event.code(), event.reason())
            };
            let _ = tx.unbounded_send(TransportEvent::Closed(reason));
        });
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Self { socket, _on_open: on_open, _on_message: on_message, _on_close: on_close })
    }

    fn send(&self, frame: &Frame) -> Result<(), String> {
        match frame {
            Frame::Text(text) => self.socket.send_with_str(text),
            Frame::Binary(bytes) => self.socket.send_with_u8_array(bytes),
        }
        .map_err(|e| js_error("WebSocket send failed", e))
    }
}

impl Drop for WebSocketTransport {
    fn drop(&mut self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        let _ = self.socket.close_with_code(1000);
    }
}

/// Sends for SSE and long polling: one POST at a time, in order, with everything queued
/// meanwhile batched into the next body (the server splits records).
pub(super) struct PostSender {
    queue: UnboundedSender<Frame>,
}

impl PostSender {
    fn start(endpoint: &Endpoint, events: UnboundedSender<TransportEvent>) -> Self {
        let (queue, mut frames) = unbounded::<Frame>();
        let endpoint = endpoint.clone();
        wasm_bindgen_futures::spawn_local(async move {
            while let Some(first) = frames.next().await {
                let mut body = first.as_bytes().to_vec();
                while let Ok(more) = frames.try_recv() {
                    body.extend_from_slice(more.as_bytes());
                }
                if let Err(error) = post(&endpoint, &body).await {
                    let _ = events.unbounded_send(TransportEvent::Closed(error));
                    return;
                }
            }
        });
        Self { queue }
    }

    fn send(&self, frame: Frame) -> Result<(), String> {
        self.queue.unbounded_send(frame).map_err(|_| "the transport is closed".to_string())
    }
}

fn request(method: Method, url: &str, endpoint: &Endpoint) -> RequestBuilder {
    let mut builder = RequestBuilder::new(url).method(method).header("X-Requested-With", "XMLHttpRequest").credentials(
        if endpoint.with_credentials { RequestCredentials::Include } else { RequestCredentials::SameOrigin },
    );
    if let Some(token) = &endpoint.access_token {
        builder = builder.header("Authorization", &format!("Bearer {token}"));
    }
    builder
}

async fn post(endpoint: &Endpoint, body: &[u8]) -> Result<(), String> {
    let content_type = match endpoint.format {
        TransferFormat::Text => "text/plain;charset=UTF-8",
        TransferFormat::Binary => "application/octet-stream",
    };
    let response = request(Method::POST, &endpoint.url, endpoint)
        .header("Content-Type", content_type)
        .body(Uint8Array::from(body))
        .map_err(|e| format!("cannot build a send request: {e}"))?
        .send()
        .await
        .map_err(|e| format!("send failed: {e}"))?;
    match response.status() {
        200..=299 => Ok(()),
        404 => Err("the server no longer knows this connection (404)".into()),
        status => Err(format!("send failed with HTTP {status}")),
    }
}

/// Server-Sent Events: an `EventSource` to receive, POSTs to send.
pub struct SseTransport {
    source: EventSource,
    sender: PostSender,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut()>,
}

impl SseTransport {
    fn open(endpoint: &Endpoint, events: UnboundedSender<TransportEvent>) -> Result<Self, String> {
        if endpoint.format == TransferFormat::Binary {
            return Err("Server-Sent Events carry text only; MessagePack needs WebSockets or Long Polling".into());
        }
        let url = append_access_token(&endpoint.url, endpoint.access_token.as_deref());
        let init = EventSourceInit::new();
        init.set_with_credentials(endpoint.with_credentials);
        let source = EventSource::new_with_event_source_init_dict(&url, &init)
            .map_err(|e| js_error("cannot open EventSource", e))?;
        let (opened, on_open) = open_handler(&events);
        let tx = events.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(text) = event.data().dyn_ref::<JsString>() {
                let _ = tx.unbounded_send(TransportEvent::Data(utf8_bytes(text)));
            }
        });
        let (tx, source_ref) = (events.clone(), source.clone());
        // EventSource retries by itself after an error; SignalR treats any error as the end.
        let on_error = Closure::<dyn FnMut()>::new(move || {
            source_ref.close();
            let reason = if opened.get() { "the event stream ended" } else { "EventSource failed to connect" };
            let _ = tx.unbounded_send(TransportEvent::Closed(reason.into()));
        });
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        let sender = PostSender::start(endpoint, events);
        Ok(Self { source, sender, _on_open: on_open, _on_message: on_message, _on_error: on_error })
    }
}

impl Drop for SseTransport {
    fn drop(&mut self) {
        self.source.set_onopen(None);
        self.source.set_onmessage(None);
        self.source.set_onerror(None);
        self.source.close();
    }
}

/// Long Polling: a poll loop, POSTs to send, DELETE when dropped.
pub struct LongPollingTransport {
    sender: PostSender,
    running: Rc<Cell<bool>>,
    abort: AbortController,
    endpoint: Endpoint,
}

/// A poll the server does not answer within this long is abandoned and re-issued.
const POLL_TIMEOUT_MS: u32 = 100_000;

impl LongPollingTransport {
    fn open(endpoint: &Endpoint, events: UnboundedSender<TransportEvent>) -> Result<Self, String> {
        let running = Rc::new(Cell::new(true));
        let abort = AbortController::new().map_err(|e| js_error("this browser cannot abort requests", e))?;
        let sender = PostSender::start(endpoint, events.clone());
        wasm_bindgen_futures::spawn_local(poll_loop(endpoint.clone(), events, running.clone(), abort.clone()));
        Ok(Self { sender, running, abort, endpoint: endpoint.clone() })
    }
}

async fn poll_loop(
    endpoint: Endpoint,
    events: UnboundedSender<TransportEvent>,
    running: Rc<Cell<bool>>,
    abort: AbortController,
) {
    let mut first = true;
    while running.get() {
        let url = append_query(&endpoint.url, "_", &js_sys::Date::now().to_string());
        let poll = request(Method::GET, &url, &endpoint).abort_signal(Some(&abort.signal())).send();
        let timeout = gloo_timers::future::TimeoutFuture::new(POLL_TIMEOUT_MS);
        let response = match futures::future::select(Box::pin(poll), timeout).await {
            futures::future::Either::Left((response, _)) => response,
            futures::future::Either::Right(_) => continue, // a stuck poll: ask again
        };
        if !running.get() {
            return;
        }
        let response = match response {
            Ok(response) => response,
            Err(error) => {
                let _ = events.unbounded_send(TransportEvent::Closed(format!("long poll failed: {error}")));
                return;
            }
        };
        match response.status() {
            200 => {
                let body = response.binary().await.unwrap_or_default();
                if first {
                    first = false;
                    let _ = events.unbounded_send(TransportEvent::Open);
                }
                if !body.is_empty() {
                    let _ = events.unbounded_send(TransportEvent::Data(body));
                }
            }
            204 => {
                let _ = events.unbounded_send(TransportEvent::Closed("the server ended the connection".into()));
                return;
            }
            status => {
                let _ = events.unbounded_send(TransportEvent::Closed(format!("long poll answered HTTP {status}")));
                return;
            }
        }
    }
}

impl Drop for LongPollingTransport {
    fn drop(&mut self) {
        self.running.set(false);
        self.abort.abort();
        let endpoint = self.endpoint.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let _ = request(Method::DELETE, &endpoint.url, &endpoint).send().await;
        });
    }
}
