//! Azure SignalR connection strings: `Endpoint=...;AccessKey=...;Version=1.0;`.

/// The parts of a connection string the simulator uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionString {
    /// Scheme, host and port, without a trailing slash (a `Port=` key is folded in).
    pub endpoint: String,
    pub access_key: String,
}

/// Why a connection string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionStringError {
    #[error("connection string has no Endpoint=")]
    MissingEndpoint,
    #[error("connection string has no AccessKey= (only key-based auth is supported)")]
    MissingAccessKey,
    #[error("connection string Endpoint must start with http:// or https://, got {0:?}")]
    BadEndpoint(String),
    #[error("connection string Version must be 1.x, got {0:?}")]
    BadVersion(String),
    #[error("connection string Port must be a number, got {0:?}")]
    BadPort(String),
}

impl std::str::FromStr for ConnectionString {
    type Err = ConnectionStringError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut endpoint = None;
        let mut access_key = None;
        let mut port = None;
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((key, value)) = part.split_once('=') else {
                continue;
            };
            match key.trim().to_ascii_lowercase().as_str() {
                "endpoint" => endpoint = Some(value.trim().trim_end_matches('/').to_string()),
                "accesskey" => access_key = Some(value.trim().to_string()),
                "port" => {
                    let value = value.trim();
                    port = Some(value.parse::<u16>().map_err(|_| ConnectionStringError::BadPort(value.into()))?);
                }
                "version" if !value.trim().starts_with("1.") => {
                    return Err(ConnectionStringError::BadVersion(value.trim().into()))
                }
                _ => {}
            }
        }
        let mut endpoint = endpoint.ok_or(ConnectionStringError::MissingEndpoint)?;
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(ConnectionStringError::BadEndpoint(endpoint));
        }
        let access_key = access_key.filter(|k| !k.is_empty()).ok_or(ConnectionStringError::MissingAccessKey)?;
        if let Some(port) = port {
            let (scheme, authority) = endpoint.split_once("://").unwrap_or(("http", &endpoint));
            let host = strip_port(authority);
            endpoint = format!("{scheme}://{host}:{port}");
        }
        Ok(Self { endpoint, access_key })
    }
}

/// `host:1234` → `host`; leaves `host` and `[::1]` alone.
fn strip_port(authority: &str) -> &str {
    match authority.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

impl ConnectionString {
    /// The port the endpoint names (or the scheme's default).
    pub fn port(&self) -> u16 {
        let authority = self.endpoint.split_once("://").map(|(_, a)| a).unwrap_or(&self.endpoint);
        let host = strip_port(authority);
        match authority[host.len()..].strip_prefix(':').and_then(|p| p.parse().ok()) {
            Some(port) => port,
            None if self.endpoint.starts_with("https://") => 443,
            None => 80,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_development_shape() {
        let cs: ConnectionString = "Endpoint=http://127.0.0.1:8888;AccessKey=abc;Version=1.0;".parse().unwrap();
        assert_eq!(cs.endpoint, "http://127.0.0.1:8888");
        assert_eq!(cs.access_key, "abc");
        assert_eq!(cs.port(), 8888);
    }

    #[test]
    fn keys_are_case_insensitive_and_port_is_folded_in() {
        let cs: ConnectionString = "endpoint=http://localhost/;accesskey=K;port=9999;version=1.0".parse().unwrap();
        assert_eq!(cs.endpoint, "http://localhost:9999");
        let cs: ConnectionString = "Endpoint=https://x.service.signalr.net;AccessKey=K;Version=1.0;".parse().unwrap();
        assert_eq!(cs.port(), 443);
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        assert_eq!("AccessKey=K".parse::<ConnectionString>(), Err(ConnectionStringError::MissingEndpoint));
        assert_eq!(
            "Endpoint=http://h;Version=1.0".parse::<ConnectionString>(),
            Err(ConnectionStringError::MissingAccessKey)
        );
        assert!(matches!(
            "Endpoint=h;AccessKey=K".parse::<ConnectionString>(),
            Err(ConnectionStringError::BadEndpoint(_))
        ));
        assert!(matches!(
            "Endpoint=http://h;AccessKey=K;Version=2.0".parse::<ConnectionString>(),
            Err(ConnectionStringError::BadVersion(_))
        ));
    }
}
