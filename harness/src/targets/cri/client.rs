//! CRI v1 over a unix socket with tonic.

use std::time::Duration;

use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint};

use super::proto::runtime_service_client::RuntimeServiceClient;

/// Every call gives up after this long, so a wedged runtime cannot hang a run.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// `unix:///run/x.sock`, `unix:/run/x.sock` or a bare path → the path.
pub fn socket_path(address: &str) -> String {
    address
        .strip_prefix("unix://")
        .or_else(|| address.strip_prefix("unix:"))
        .unwrap_or(address)
        .to_string()
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("no CRI socket at {0}")]
    NoSocket(String),
    #[error("cannot connect to {address}")]
    Transport {
        address: String,
        #[source]
        source: tonic::transport::Error,
    },
}

pub async fn connect(address: &str) -> Result<RuntimeServiceClient<Channel>, ConnectError> {
    let path = socket_path(address);
    if !std::path::Path::new(&path).exists() {
        return Err(ConnectError::NoSocket(path));
    }
    // The URI is required by tonic but unused: the connector dials the socket.
    let channel = Endpoint::from_static("http://cri.local")
        .connect_timeout(Duration::from_secs(5))
        .timeout(CALL_TIMEOUT)
        .connect_with_connector(tower::service_fn(move |_| {
            let path = path.clone();
            async move {
                Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(path).await?))
            }
        }))
        .await
        .map_err(|source| ConnectError::Transport {
            address: address.to_string(),
            source,
        })?;
    Ok(RuntimeServiceClient::new(channel).max_decoding_message_size(16 * 1024 * 1024))
}

/// Errors that mean the runtime itself is gone, not that it refused a request.
pub fn is_unreachable(status: &tonic::Status) -> bool {
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => true,
        // Transport failures that tonic reports without a gRPC status.
        tonic::Code::Unknown => status.message().contains("transport error"),
        _ => false,
    }
}
