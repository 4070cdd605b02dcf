//! The calls besides the live stream: the snapshot, group subscriptions and acknowledgements.
//! Made to the functions API (`apiBase`), or as hub methods when the dashboard talks to a hub
//! directly (`hubUrl`): `snapshot()`, `subscribe(groups)`, `acknowledge(by, ids)`.

use gloo_net::http::{Request, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use serde::de::IgnoredAny;
use signalr::web::{HubConnection, InvokeError};
use telemetry::alarms::{Suppression, SuppressionEnded, SuppressionRequest};
use telemetry::basemap::Basemap;
use telemetry::catalog::Geofence;
use telemetry::history::{AlertLog, Coverage, FleetHistory, SeriesHistory, TrackHistory};
use telemetry::{AckManyRequest, AlertAcknowledged, Millis, Snapshot, SubscriptionRequest};
use wasm_bindgen::JsCast;

/// Where the calls go.
#[derive(Clone)]
pub enum Api {
    /// The functions API's base URL.
    Functions(String),
    /// The hub connection itself.
    Hub(HubConnection),
}

/// Whether a hub answered that it has no such method (ASP.NET Core: "Method does not exist.";
/// the simulator: "Unknown hub method").
fn missing_method(error: &InvokeError) -> bool {
    matches!(error, InvokeError::Hub(message) if message.contains("does not exist") || message.contains("Unknown hub method"))
}

impl Api {
    /// The current state to start from; `None` when the hub offers no snapshot (the dashboard
    /// then fills as data arrives).
    pub async fn snapshot(&self) -> Result<Option<Snapshot>, String> {
        match self {
            Api::Functions(api_base) => {
                let url = format!("{api_base}/snapshot");
                let response = authorized(Request::get(&url))
                    .await?
                    .send()
                    .await
                    .map_err(|e| format!("snapshot request failed: {e}"))?;
                if !response.ok() {
                    return Err(failure(response, "snapshot").await);
                }
                response.json().await.map(Some).map_err(|e| format!("snapshot is not the expected JSON: {e}"))
            }
            Api::Hub(hub) => match hub.invoke::<Snapshot>("snapshot", &()).await {
                Ok(snapshot) => Ok(Some(snapshot)),
                Err(error) if missing_method(&error) => Ok(None),
                Err(error) => Err(format!("the hub's snapshot failed: {error}")),
            },
        }
    }

    /// Joins `groups` with this connection (a hub without `subscribe` decides itself what each
    /// connection receives).
    pub async fn subscribe(&self, connection_id: &str, groups: Vec<String>) -> Result<(), String> {
        match self {
            Api::Functions(api_base) => {
                let body = SubscriptionRequest { connection_id: connection_id.to_string(), groups };
                post_json(&format!("{api_base}/subscriptions"), &body, "subscription").await.map(drop)
            }
            Api::Hub(hub) => match hub.invoke::<IgnoredAny>("subscribe", &(groups,)).await {
                Ok(_) => Ok(()),
                Err(error) if missing_method(&error) => Ok(()),
                Err(error) => Err(format!("the hub's subscribe failed: {error}")),
            },
        }
    }

    /// Acknowledges `ids` as `by`, in calls of at most [`telemetry::MAX_ACK_IDS`]. Returns the
    /// acknowledgements made.
    pub async fn acknowledge(&self, ids: Vec<String>, by: &str) -> Result<Vec<AlertAcknowledged>, String> {
        let mut done = Vec::new();
        for chunk in ids.chunks(telemetry::MAX_ACK_IDS) {
            let acks = match self {
                Api::Functions(api_base) => acknowledge_through_functions(api_base, chunk, by).await?,
                Api::Hub(hub) => hub
                    .invoke::<Vec<AlertAcknowledged>>("acknowledge", &(by, chunk))
                    .await
                    .map_err(|e| format!("the hub's acknowledge failed: {e}"))?,
            };
            done.extend(acks);
        }
        Ok(done)
    }
}

/// Why a history call failed, and whether asking again may help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryError {
    pub message: String,
    /// The backend refused the question itself (4xx other than 404 or 429): asking the same
    /// again will not help.
    pub permanent: bool,
}

/// A history answer is given up on after this long (a request that never ends would hold a
/// loading slot for good).
const HISTORY_TIMEOUT_MS: i32 = 15_000;

impl Api {
    /// A device's metrics from `from` up to the backend's now (no `to`: the backend's clock
    /// decides where history ends, so a page whose clock is off leaves no gap at the seam), in
    /// at most `points` buckets each; `None` when the backend keeps no history (404, or a hub
    /// reached directly).
    pub async fn history(
        &self,
        device: &str,
        from: Millis,
        points: u32,
    ) -> Result<Option<SeriesHistory>, HistoryError> {
        let query = format!("device={}&from={from}&points={points}", encode(device));
        self.get_history(telemetry::history::SERIES_PATH, &query, "history").await
    }

    /// A vehicle's track from `from` up to the backend's now, at most `points` fixes.
    pub async fn track(&self, vehicle: &str, from: Millis, points: u32) -> Result<Option<TrackHistory>, HistoryError> {
        let query = format!("vehicle={}&from={from}&points={points}", encode(vehicle));
        self.get_history(telemetry::history::TRACK_PATH, &query, "track history").await
    }

    /// What happened to alerts from `from` up to the backend's now, as much as the backend
    /// gives in one answer (the alarm-health figures).
    pub async fn alarm_log(&self, from: Millis) -> Result<Option<AlertLog>, HistoryError> {
        let query = format!("from={from}&limit={}", telemetry::history::MAX_ALERT_LIMIT);
        self.get_history(telemetry::history::ALERTS_PATH, &query, "alarm log").await
    }

    /// What happened to alerts from `from` up to the backend's now.
    pub async fn alert_log(&self, from: Millis) -> Result<Option<AlertLog>, HistoryError> {
        self.get_history(telemetry::history::ALERTS_PATH, &format!("from={from}"), "alert history").await
    }

    /// The fleet frame by frame from `from` to `to`, a frame every `step_ms`; only `vehicles`
    /// when some are named.
    pub async fn fleet_history(
        &self,
        from: Millis,
        to: Millis,
        step_ms: i64,
        vehicles: &[String],
    ) -> Result<Option<FleetHistory>, HistoryError> {
        let mut query = format!("from={from}&to={to}&step={step_ms}");
        if !vehicles.is_empty() {
            let ids: Vec<String> = vehicles.iter().map(|v| encode(v)).collect();
            query.push_str(&format!("&vehicles={}", ids.join(",")));
        }
        self.get_history(telemetry::history::FLEET_PATH, &query, "fleet history").await
    }

    /// The backend's own world to draw under the vehicles; `None` when it serves none (404).
    pub async fn basemap(&self) -> Result<Option<Basemap>, HistoryError> {
        self.get_history(telemetry::basemap::BASEMAP_PATH, "", "basemap").await
    }

    /// Saves a geofence (or removes one: `removed: true`) through `POST {apiBase}/geofences`;
    /// every dashboard hears of it as a pushed catalog.
    pub async fn save_geofence(&self, fence: &Geofence) -> Result<(), String> {
        let Api::Functions(api_base) = self else {
            return Err("this backend (a hub reached directly) takes no geofences".into());
        };
        let path = telemetry::catalog::GEOFENCES_PATH;
        post_json(&format!("{api_base}/{path}"), fence, "geofence").await.map(|_| ())
    }

    /// Shelves an alarm point or puts a device out of service (`POST {apiBase}/suppressions`);
    /// every dashboard hears of it as `suppressed`.
    pub async fn suppress(&self, request: &SuppressionRequest) -> Result<Suppression, String> {
        match self {
            Api::Functions(api_base) => {
                let path = telemetry::alarms::SUPPRESSIONS_PATH;
                let response = post_json(&format!("{api_base}/{path}"), request, "shelving").await?;
                response.json().await.map_err(|e| format!("the shelving answer is not the expected JSON: {e}"))
            }
            Api::Hub(hub) => hub
                .invoke::<Suppression>("suppress", &(request,))
                .await
                .map_err(|e| format!("the hub's suppress failed: {e}")),
        }
    }

    /// Ends a suppression before its time (`DELETE {apiBase}/suppressions/{id}`).
    pub async fn end_suppression(&self, id: &str, by: &str) -> Result<SuppressionEnded, String> {
        match self {
            Api::Functions(api_base) => {
                let path = telemetry::alarms::SUPPRESSIONS_PATH;
                let body = telemetry::alarms::EndSuppressionRequest { by: by.to_string() };
                let response = authorized(Request::delete(&format!("{api_base}/{path}/{}", encode(id))))
                    .await?
                    .json(&body)
                    .map_err(|e| format!("cannot encode the request: {e}"))?
                    .send()
                    .await
                    .map_err(|e| format!("ending the suppression failed: {e}"))?;
                if !response.ok() {
                    return Err(failure(response, "ending the suppression").await);
                }
                response.json().await.map_err(|e| format!("the answer is not the expected JSON: {e}"))
            }
            Api::Hub(hub) => hub
                .invoke::<SuppressionEnded>("endSuppression", &(id, by))
                .await
                .map_err(|e| format!("the hub's endSuppression failed: {e}")),
        }
    }

    /// Who the functions take the caller for (`GET {apiBase}/me`); `None` from a backend
    /// without that route (or a hub reached directly).
    pub async fn identity(&self) -> Result<Option<telemetry::auth::Identity>, HistoryError> {
        self.get_history(telemetry::auth::ME_PATH, "", "who you are").await
    }

    /// Everything that happened to one alert, oldest first.
    pub async fn alert_timeline(&self, id: &str) -> Result<Option<AlertLog>, HistoryError> {
        self.get_history(telemetry::history::ALERTS_PATH, &format!("id={}", encode(id)), "the alarm's timeline").await
    }

    /// Where the backend keeps no data from `from` up to its now.
    pub async fn coverage(&self, from: Millis) -> Result<Option<Coverage>, HistoryError> {
        self.get_history(telemetry::history::COVERAGE_PATH, &format!("from={from}"), "history coverage").await
    }

    async fn get_history<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &str,
        what: &str,
    ) -> Result<Option<T>, HistoryError> {
        let Api::Functions(api_base) = self else { return Ok(None) };
        let retry = |message: String| HistoryError { message, permanent: false };
        let url = format!("{api_base}/{path}?{query}");
        let controller = web_sys::AbortController::new().ok();
        let timer = controller.as_ref().and_then(|c| {
            let c = c.clone();
            let abort = wasm_bindgen::closure::Closure::once_into_js(move || c.abort());
            web_sys::window()?
                .set_timeout_with_callback_and_timeout_and_arguments_0(abort.unchecked_ref(), HISTORY_TIMEOUT_MS)
                .ok()
        });
        let signal = controller.as_ref().map(web_sys::AbortController::signal);
        let request = authorized(Request::get(&url)).await.map_err(retry)?;
        let sent = request.abort_signal(signal.as_ref()).send().await;
        let response = sent.map_err(|e| retry(format!("{what} request failed or took over 15 s: {e}")));
        let answer = match response {
            Ok(response) => match response.status() {
                404 => Ok(None),
                401 | 403 => Err(HistoryError { message: failure(response, what).await, permanent: true }),
                status @ (400..=499) if status != 429 => Err(HistoryError {
                    message: format!("{what} answered HTTP {status}: {}", response.text().await.unwrap_or_default()),
                    permanent: true,
                }),
                status if !response.ok() => Err(retry(format!("{what} answered HTTP {status}"))),
                _ => {
                    response.json().await.map(Some).map_err(|e| retry(format!("{what} is not the expected JSON: {e}")))
                }
            },
            Err(error) => Err(error),
        };
        if let (Some(window), Some(timer)) = (web_sys::window(), timer) {
            window.clear_timeout_with_handle(timer);
        }
        answer
    }
}

/// `text` for a URL's query.
fn encode(text: &str) -> String {
    String::from(js_sys::encode_uri_component(text))
}

/// `POST {apiBase}/alerts/ack`.
async fn acknowledge_through_functions(
    api_base: &str,
    ids: &[String],
    by: &str,
) -> Result<Vec<AlertAcknowledged>, String> {
    let body = AckManyRequest { by: by.to_string(), ids: ids.to_vec() };
    let response = post_json(&format!("{api_base}/alerts/ack"), &body, "acknowledgement").await?;
    response.json().await.map_err(|e| format!("acknowledgement answer is not the expected JSON: {e}"))
}

/// POSTs `body` as JSON; an answer other than 2xx is an error carrying its status and body.
/// `what` names the request in the messages the status bar shows.
async fn post_json(url: &str, body: &impl serde::Serialize, what: &str) -> Result<Response, String> {
    let response = authorized(Request::post(url))
        .await?
        .json(body)
        .map_err(|e| format!("cannot encode the {what}: {e}"))?
        .send()
        .await
        .map_err(|e| format!("{what} request failed: {e}"))?;
    if !response.ok() {
        return Err(failure(response, what).await);
    }
    Ok(response)
}

/// `builder` with the signed-in user's access token as a bearer, when the page signs in.
async fn authorized(builder: RequestBuilder) -> Result<RequestBuilder, String> {
    Ok(match crate::auth::bearer().await? {
        Some(token) => builder.header("Authorization", &format!("Bearer {token}")),
        None => builder,
    })
}

/// An answer other than 2xx in words, with the functions' own reason (their JSON `error`).
/// A 401 also goes to the sign-in (the token is renewed, or the user signs in again); a 403
/// says what is not allowed.
async fn failure(response: Response, what: &str) -> String {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let reason = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or_else(|| text.chars().take(300).collect());
    match status {
        401 => {
            crate::auth::refused(reason.clone());
            format!("{what} refused: not signed in, or the sign-in has ended ({reason})")
        }
        403 => format!("{what} not allowed: {reason}"),
        _ => format!("{what} answered HTTP {status}: {reason}"),
    }
}
