//! Hub methods clients can call. Azure SignalR in serverless mode forwards client invocations
//! to an upstream function; the simulator plays that upstream with a few methods that let
//! tests and tools check invoke, send and streaming end to end, and with the dashboards'
//! methods ([`dashboard_method`]) that a plain ASP.NET Core hub would offer instead of the
//! functions API.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use signalr::protocol::{Headers, HubMessage, HubProtocol, Payload};
use telemetry::SubscriptionRequest;

use crate::auth::Caller;
use crate::{functions, unix_millis, AppState};

/// What a client invocation asks the connection to do.
pub(super) enum Action {
    /// Send these messages back to the caller.
    Reply(Vec<HubMessage>),
    /// Start a server-to-client stream of `count` integers, one every `interval_ms`.
    Stream { invocation_id: String, count: u64, interval_ms: u64 },
    /// Reply, then cut the transport abruptly (a fault for reconnect tests).
    ReplyThenDropTransport(Vec<HubMessage>),
    /// Run this, then send what it returns to the caller.
    Later(Pin<Box<dyn Future<Output = Vec<HubMessage>> + Send>>),
    /// Nothing to do.
    None,
}

/// The dashboards' methods, the functions API as hub methods (what a dashboard configured with
/// a hub URL instead of `apiBase` calls):
///
/// * `snapshot()` → the snapshot, as `GET /api/snapshot`;
/// * `catalog()` → the catalog, as `GET /api/catalog`;
/// * `subscribe(groups)` / `unsubscribe(groups)` → the caller's groups, as `/api/subscriptions`;
/// * `acknowledge(by, ids)` → the acknowledgements made, as `POST /api/alerts/ack`;
/// * `suppress(request)` → the suppression made, as `POST /api/suppressions`;
/// * `endSuppression(id, by)` → its end, as `DELETE /api/suppressions/{id}`.
///
/// See [`is_dashboard_method`] for which targets these are. They act for anyone who calls them
/// (a plain hub has no users); with sign-in on they are refused (`refused_under_sign_in`):
/// there group membership and every action are the functions' decision.
pub(super) fn dashboard_method(
    state: &Arc<AppState>,
    connection_id: &str,
    protocol: HubProtocol,
    invocation_id: Option<String>,
    target: &str,
    arguments: Vec<Payload>,
) -> Action {
    let method = target.to_ascii_lowercase();
    let (state, connection_id) = (state.clone(), connection_id.to_string());
    let work = async move {
        let result = match method.as_str() {
            "snapshot" => {
                let snapshot = state.world.lock().expect("world lock").snapshot(unix_millis());
                encode(protocol, &snapshot)
            }
            "catalog" => {
                let catalog = state.world.lock().expect("world lock").catalog.clone();
                encode(protocol, &catalog)
            }
            "suppress" => {
                async {
                    let request: serde_json::Value = arg(&arguments, 0, &method)?;
                    let made =
                        functions::alarms::suppress(&state, &Caller::Open, request).await.map_err(|e| e.message)?;
                    encode(protocol, &made)
                }
                .await
            }
            "endsuppression" => {
                async {
                    let id: String = arg(&arguments, 0, &method)?;
                    let by: String = arg(&arguments, 1, &method).unwrap_or_default();
                    let ended = functions::alarms::end_suppression(&state, &Caller::Open, &id, &by)
                        .await
                        .map_err(|e| e.message)?;
                    encode(protocol, &ended)
                }
                .await
            }
            "acknowledge" => {
                async {
                    let by: String = arg(&arguments, 0, &method)?;
                    let ids: Vec<String> = arg(&arguments, 1, &method)?;
                    let acks =
                        functions::acknowledge_alerts(&state, &Caller::Open, &by, &ids).await.map_err(|e| e.message)?;
                    encode(protocol, &acks)
                }
                .await
            }
            _ => {
                async {
                    let groups: Vec<String> = arg(&arguments, 0, &method)?;
                    let request = SubscriptionRequest { connection_id, groups };
                    let answer = functions::change_groups(&state, &Caller::Open, request, method == "subscribe")
                        .await
                        .map_err(|e| e.message)?;
                    encode(protocol, &answer.groups)
                }
                .await
            }
        };
        invocation_id.map(|id| vec![completion(id, result)]).unwrap_or_default()
    };
    Action::Later(Box::pin(work))
}

/// The answer to a dashboard method called while sign-in is on: a client of the serverless
/// service joins groups and acts only through the functions API, which checks who it is.
pub(super) fn refused_under_sign_in(invocation_id: Option<String>, target: &str) -> Action {
    let error = format!(
        "{target}: with sign-in, groups and actions go through the functions API ({}/subscriptions, ...), not hub methods",
        "{apiBase}"
    );
    match invocation_id {
        Some(id) => Action::Reply(vec![completion(id, Err(error))]),
        None => Action::None,
    }
}

/// Whether `target` is one of the dashboards' methods.
pub(super) fn is_dashboard_method(target: &str) -> bool {
    ["snapshot", "catalog", "subscribe", "unsubscribe", "acknowledge", "suppress", "endSuppression"]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(target))
}

fn completion(invocation_id: String, result: Result<Option<Payload>, String>) -> HubMessage {
    match result {
        Ok(result) => HubMessage::Completion { invocation_id, result, error: None, headers: Headers::new() },
        Err(error) => {
            HubMessage::Completion { invocation_id, result: None, error: Some(error), headers: Headers::new() }
        }
    }
}

fn arg<T: serde::de::DeserializeOwned>(arguments: &[Payload], index: usize, method: &str) -> Result<T, String> {
    arguments
        .get(index)
        .ok_or_else(|| format!("{method} takes at least {} argument(s)", index + 1))?
        .decode()
        .map_err(|e| format!("{method}: argument {index} is invalid: {e}"))
}

fn encode<T: serde::Serialize>(protocol: HubProtocol, value: &T) -> Result<Option<Payload>, String> {
    protocol.payload(value).map(Some).map_err(|e| e.to_string())
}

/// Runs a client Invocation (`invocation_id: None` for a fire-and-forget send).
pub(super) fn invoke(
    protocol: HubProtocol,
    invocation_id: Option<String>,
    target: &str,
    arguments: Vec<Payload>,
) -> Action {
    let result: Result<Option<Payload>, String> = match target.to_ascii_lowercase().as_str() {
        // echo(value) → value
        "echo" => match arguments.into_iter().next() {
            Some(value) => Ok(Some(value)),
            None => Err("echo takes one argument".into()),
        },
        // add(a, b) → a + b
        "add" => arg::<f64>(&arguments, 0, "add")
            .and_then(|a| Ok(a + arg::<f64>(&arguments, 1, "add")?))
            .and_then(|sum| protocol.payload(&sum).map(Some).map_err(|e| e.to_string())),
        // fail(message) → error
        "fail" => Err(arg::<String>(&arguments, 0, "fail").unwrap_or_else(|e| e)),
        // notify(value): the hub calls the client's `notified(value)` back.
        "notify" => {
            let reply = HubMessage::Invocation {
                invocation_id: None,
                target: "notified".into(),
                arguments,
                stream_ids: Vec::new(),
                headers: Headers::new(),
            };
            let mut replies = vec![reply];
            if let Some(id) = invocation_id {
                replies.push(completion(id, Ok(None)));
            }
            return Action::Reply(replies);
        }
        // dropTransport(): answers, then cuts the transport like a network failure.
        "droptransport" => {
            let replies = invocation_id.map(|id| vec![completion(id, Ok(None))]).unwrap_or_default();
            return Action::ReplyThenDropTransport(replies);
        }
        other => Err(format!("Unknown hub method '{other}'")),
    };
    match invocation_id {
        Some(id) => Action::Reply(vec![completion(id, result)]),
        None => Action::None,
    }
}

/// Runs a client StreamInvocation: `counter(count, intervalMs)` streams 0..count.
pub(super) fn stream(invocation_id: String, target: &str, arguments: &[Payload]) -> Action {
    if !target.eq_ignore_ascii_case("counter") {
        let error = format!("Unknown streaming hub method '{target}'");
        return Action::Reply(vec![completion(invocation_id, Err(error))]);
    }
    let count = arg::<u64>(arguments, 0, "counter");
    let interval = arg::<u64>(arguments, 1, "counter").unwrap_or(10);
    match count {
        Ok(count) => {
            Action::Stream { invocation_id, count: count.min(100_000), interval_ms: interval.clamp(1, 60_000) }
        }
        Err(error) => Action::Reply(vec![completion(invocation_id, Err(error))]),
    }
}

/// One item of a stream.
pub(super) fn stream_item(protocol: HubProtocol, invocation_id: &str, value: u64) -> Option<HubMessage> {
    let item = protocol.payload(&value).ok()?;
    Some(HubMessage::StreamItem { invocation_id: invocation_id.to_string(), item, headers: Headers::new() })
}

/// The Completion that ends a stream.
pub(super) fn stream_end(invocation_id: &str) -> HubMessage {
    completion(invocation_id.to_string(), Ok(None))
}
