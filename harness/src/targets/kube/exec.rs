//! Running commands in a pod. Behind a trait because the exec websocket
//! cannot be served by the mock API server in tests.

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams};
use kube::Client;
use tokio::io::AsyncReadExt;

use crate::observation::ExecResult;
use crate::targets::TargetError;

#[async_trait]
pub trait PodExec: Send + Sync {
    async fn exec(
        &self,
        client: &Client,
        namespace: &str,
        pod: &str,
        container: &str,
        command: &[String],
    ) -> Result<ExecResult, TargetError>;
}

/// Exec over the API server's websocket (kube-rs `ws`).
pub struct WebSocketExec;

#[async_trait]
impl PodExec for WebSocketExec {
    async fn exec(
        &self,
        client: &Client,
        namespace: &str,
        pod: &str,
        container: &str,
        command: &[String],
    ) -> Result<ExecResult, TargetError> {
        let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let params = AttachParams::default()
            .container(container)
            .stdin(false)
            .stdout(true)
            .stderr(true);
        let mut attached = api
            .exec(pod, command.to_vec(), &params)
            .await
            .map_err(|e| {
                TargetError::scenario_by(format!("exec {command:?} in {pod}/{container}"), e)
            })?;
        let mut stdout = String::new();
        let mut stderr = String::new();
        if let Some(mut o) = attached.stdout() {
            let _ = o.read_to_string(&mut stdout).await;
        }
        if let Some(mut e) = attached.stderr() {
            let _ = e.read_to_string(&mut stderr).await;
        }
        let status = match attached.take_status() {
            Some(s) => s.await,
            None => None,
        };
        let _ = attached.join().await;
        let exit_code = match status {
            Some(s) if s.status.as_deref() == Some("Success") => 0,
            Some(s) => s
                .details
                .and_then(|d| d.causes)
                .and_then(|c| {
                    c.into_iter()
                        .find(|c| c.reason.as_deref() == Some("ExitCode"))
                })
                .and_then(|c| c.message)
                .and_then(|m| m.parse().ok())
                .unwrap_or(1),
            None => 0,
        };
        Ok(ExecResult {
            command: command.to_vec(),
            exit_code,
            stdout,
            stderr,
        })
    }
}
