//! Who the harness acts as: impersonation as a tower layer on the client, so
//! the same code serves real clusters and the mock API server in tests.

use http::{HeaderValue, Request};
use kube::client::{Body, ClientBuilder};
use kube::Client;
use tower::util::MapRequestLayer;

/// An identity to impersonate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub groups: Vec<String>,
}

impl Identity {
    /// An OpenShift/Kubernetes user.
    pub fn user(name: &str) -> Identity {
        Identity {
            user: name.to_string(),
            groups: vec![
                "system:authenticated".into(),
                "system:authenticated:oauth".into(),
            ],
        }
    }

    /// A ServiceAccount in a namespace.
    pub fn service_account(namespace: &str, name: &str) -> Identity {
        Identity {
            user: format!("system:serviceaccount:{namespace}:{name}"),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".into(),
            ],
        }
    }
}

/// Adds `Impersonate-User` / `Impersonate-Group` headers.
pub fn add_headers(identity: &Option<Identity>, mut req: Request<Body>) -> Request<Body> {
    if let Some(id) = identity {
        let h = req.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&id.user) {
            h.insert("Impersonate-User", v);
        }
        for g in &id.groups {
            if let Ok(v) = HeaderValue::from_str(g) {
                h.append("Impersonate-Group", v);
            }
        }
    }
    req
}

/// The layer that makes a client act as `identity` (`None`: the harness itself).
pub fn impersonation(
    identity: Option<Identity>,
) -> MapRequestLayer<impl Fn(Request<Body>) -> Request<Body> + Clone> {
    MapRequestLayer::new(move |req| add_headers(&identity, req))
}

/// A client for the real cluster acting as `identity`.
pub fn real_client(
    config: &kube::Config,
    identity: Option<Identity>,
) -> Result<Client, kube::Error> {
    let builder = ClientBuilder::try_from(config.clone())?;
    Ok(builder.with_layer(&impersonation(identity)).build())
}
