//! Calls to the functions API: the snapshot, group subscriptions and acknowledgements.

use gloo_net::http::Request;
use telemetry::{AckManyRequest, AlertAcknowledged, Snapshot, SubscriptionRequest};

/// `GET {apiBase}/snapshot`.
pub async fn snapshot(api_base: &str) -> Result<Snapshot, String> {
    let url = format!("{api_base}/snapshot");
    let response = Request::get(&url).send().await.map_err(|e| format!("snapshot request failed: {e}"))?;
    if !response.ok() {
        return Err(format!("snapshot answered HTTP {}", response.status()));
    }
    response.json().await.map_err(|e| format!("snapshot is not the expected JSON: {e}"))
}

/// `POST {apiBase}/subscriptions`: joins `groups` with this connection.
pub async fn subscribe(api_base: &str, connection_id: &str, groups: Vec<String>) -> Result<(), String> {
    let body = SubscriptionRequest { connection_id: connection_id.to_string(), groups };
    let response = Request::post(&format!("{api_base}/subscriptions"))
        .json(&body)
        .map_err(|e| format!("cannot encode the subscription: {e}"))?
        .send()
        .await
        .map_err(|e| format!("subscription request failed: {e}"))?;
    if !response.ok() {
        let detail = response.text().await.unwrap_or_default();
        return Err(format!("subscription answered HTTP {}: {detail}", response.status()));
    }
    Ok(())
}

/// `POST {apiBase}/alerts/ack`: acknowledges `ids` as `by`, in calls of at most
/// [`telemetry::MAX_ACK_IDS`]. Returns the acknowledgements the functions made.
pub async fn acknowledge(api_base: &str, ids: Vec<String>, by: &str) -> Result<Vec<AlertAcknowledged>, String> {
    let mut done = Vec::new();
    for chunk in ids.chunks(telemetry::MAX_ACK_IDS) {
        let body = AckManyRequest { by: by.to_string(), ids: chunk.to_vec() };
        let response = Request::post(&format!("{api_base}/alerts/ack"))
            .json(&body)
            .map_err(|e| format!("cannot encode the acknowledgement: {e}"))?
            .send()
            .await
            .map_err(|e| format!("acknowledgement request failed: {e}"))?;
        if !response.ok() {
            let detail = response.text().await.unwrap_or_default();
            return Err(format!("acknowledgement answered HTTP {}: {detail}", response.status()));
        }
        let acks: Vec<AlertAcknowledged> =
            response.json().await.map_err(|e| format!("acknowledgement answer is not the expected JSON: {e}"))?;
        done.extend(acks);
    }
    Ok(done)
}
