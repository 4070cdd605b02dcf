//! The WebSocket transport: a browser `WebSocket` whose callbacks feed a channel.

use futures::channel::mpsc::UnboundedSender;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

/// What the socket reports.
#[derive(Debug)]
pub enum TransportEvent {
    Open,
    Text(String),
    Closed {
        code: u16,
        reason: String,
        clean: bool,
    },
}

/// An open (or opening) WebSocket. Dropping it detaches the callbacks and closes the socket.
pub struct WebSocketTransport {
    socket: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl WebSocketTransport {
    /// Starts connecting to `url`; events arrive on `events`.
    pub fn open(url: &str, events: UnboundedSender<TransportEvent>) -> Result<Self, String> {
        let socket = WebSocket::new(url).map_err(|e| format!("cannot open WebSocket: {e:?}"))?;
        socket.set_binary_type(BinaryType::Arraybuffer);

        let tx = events.clone();
        let on_open = Closure::<dyn FnMut()>::new(move || {
            let _ = tx.unbounded_send(TransportEvent::Open);
        });
        let tx = events.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            // The JSON protocol uses text frames only; binary frames are ignored here.
            if let Some(text) = event.data().as_string() {
                let _ = tx.unbounded_send(TransportEvent::Text(text));
            }
        });
        let tx = events;
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            let _ = tx.unbounded_send(TransportEvent::Closed {
                code: event.code(),
                reason: event.reason(),
                clean: event.was_clean(),
            });
        });
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Self {
            socket,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    /// Writes one text frame.
    pub fn send(&self, text: &str) -> Result<(), String> {
        self.socket
            .send_with_str(text)
            .map_err(|e| format!("WebSocket send failed: {e:?}"))
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
