//! A loopback stand-in for a Kubernetes API server over plain HTTP, enough
//! for the kube target to connect and read its facts: `/version`, an empty
//! node list and no API groups; every other request gets a 404 `Status`
//! (so a scenario that must create something ends with the server's words).
//! Every request's method and path is recorded. [`FakeApi::forbidding`]
//! answers one kind of request as the RBAC authorizer does when a rule is
//! missing (403, `… cannot <verb> resource "<resource>" …`);
//! [`FakeApi::reviewing`] answers the harness's SelfSubjectAccessReviews
//! (and SelfSubjectReview) as an authorizer that lacks some rules would.

#[path = "loopback.rs"]
mod loopback;

use std::path::{Path, PathBuf};

use loopback::{Loopback, Request, Response};

/// A request the server refuses as RBAC would: `method` on paths starting
/// with `path`, reported as `verb` on `resource`.
#[derive(Clone, Debug)]
pub struct Forbid {
    pub method: &'static str,
    pub path: &'static str,
    pub verb: &'static str,
    pub resource: &'static str,
}

/// The user the fake server knows every client as.
pub const USER: &str = "system:serviceaccount:userns-e2e:userns-e2e";

/// An authorizer that allows everything but `denied`: (verb, resource as
/// RBAC spells it, `pods/exec`, or a non-resource path, `/metrics`).
#[derive(Clone, Debug, Default)]
pub struct Authorizer {
    pub denied: Vec<(&'static str, &'static str)>,
}

pub struct FakeApi {
    pub url: String,
    server: Loopback,
}

impl FakeApi {
    /// No SelfSubjectAccessReview endpoint: the harness cannot check its
    /// permissions here.
    pub fn start() -> FakeApi {
        FakeApi::forbidding(None)
    }

    /// A server that refuses `forbid` with RBAC's 403.
    pub fn forbidding(forbid: Option<Forbid>) -> FakeApi {
        FakeApi::serve(forbid, None)
    }

    /// A server whose authorizer answers reviews as `authorizer` says.
    #[allow(dead_code)] // not every test binary that includes this file reviews
    pub fn reviewing(authorizer: Authorizer) -> FakeApi {
        FakeApi::serve(None, Some(authorizer))
    }

    fn serve(forbid: Option<Forbid>, authorizer: Option<Authorizer>) -> FakeApi {
        let server = Loopback::start(move |r| answer(r, forbid.as_ref(), authorizer.as_ref()));
        FakeApi {
            url: server.url.clone(),
            server,
        }
    }

    /// `METHOD /path?query` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.server.requests()
    }

    /// A kubeconfig for this server in `dir`.
    pub fn kubeconfig(&self, dir: &Path) -> PathBuf {
        kubeconfig_for(&self.url, dir)
    }
}

/// A kubeconfig in `dir` for the API server at `url`, with a token.
pub fn kubeconfig_for(url: &str, dir: &Path) -> PathBuf {
    let kc = dir.join("kubeconfig");
    std::fs::write(
        &kc,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: \"{url}\"}}\nusers:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\n"
        ),
    )
    .unwrap();
    kc
}

/// The SelfSubjectAccessReview `body` asks for, answered by `authorizer`.
fn review(body: &[u8], authorizer: &Authorizer) -> String {
    let mut asked: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let spec = &asked["spec"];
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
    let (verb, what) = match (
        spec.get("resourceAttributes"),
        spec.get("nonResourceAttributes"),
    ) {
        (Some(r), _) => {
            let mut what = text(&r["resource"]);
            if let Some(sub) = r["subresource"].as_str().filter(|s| !s.is_empty()) {
                what = format!("{what}/{sub}");
            }
            (text(&r["verb"]), what)
        }
        (None, Some(n)) => (text(&n["verb"]), text(&n["path"])),
        (None, None) => (String::new(), String::new()),
    };
    let allowed = !authorizer
        .denied
        .iter()
        .any(|(v, w)| *v == verb && *w == what);
    asked["status"] = serde_json::json!({"allowed": allowed});
    asked["apiVersion"] = "authorization.k8s.io/v1".into();
    asked["kind"] = "SelfSubjectAccessReview".into();
    asked.to_string()
}

fn answer(r: &Request, forbid: Option<&Forbid>, authorizer: Option<&Authorizer>) -> Response {
    let (method, path) = (r.method.as_str(), r.path());
    let refused = forbid.filter(|f| f.method == method && path.starts_with(f.path));
    let (status, body) = match (method, path) {
        _ if refused.is_some() => {
            let f = refused.unwrap();
            ("403 Forbidden", format!(r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"{r} is forbidden: User \"system:serviceaccount:userns-e2e:userns-e2e\" cannot {v} resource \"{r}\" in API group \"\" at the cluster scope","reason":"Forbidden","details":{{"kind":"{r}"}},"code":403}}"#, r = f.resource, v = f.verb))
        }
        ("GET", "/version") => ("200 OK", r#"{"major":"1","minor":"33","gitVersion":"v1.33.2","gitCommit":"x","gitTreeState":"clean","buildDate":"2026-01-01T00:00:00Z","goVersion":"go1.24","compiler":"gc","platform":"linux/amd64"}"#.to_string()),
        ("GET", "/api/v1/nodes") => ("200 OK", r#"{"kind":"NodeList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}"#.to_string()),
        ("GET", "/apis") => ("200 OK", r#"{"kind":"APIGroupList","apiVersion":"v1","groups":[]}"#.to_string()),
        ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews") if authorizer.is_some() => {
            ("201 Created", review(&r.body, authorizer.unwrap()))
        }
        ("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews") if authorizer.is_some() => {
            ("201 Created", format!(r#"{{"kind":"SelfSubjectReview","apiVersion":"authentication.k8s.io/v1","metadata":{{}},"status":{{"userInfo":{{"username":"{USER}"}}}}}}"#))
        }
        _ => ("404 Not Found", format!(r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"the fake API server has no {path}","reason":"NotFound","code":404}}"#)),
    };
    Response {
        status,
        content_type: "application/json",
        body: body.into_bytes(),
    }
}

/// The checkout (scenarios/, reports/).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A loopback port nothing listens on: an unreachable API server.
pub fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Validates a JUnit file against `reports/junit-10.xsd` with xmllint.
pub fn xmllint_junit(file: &Path) {
    let o = std::process::Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(repo().join("reports/junit-10.xsd"))
        .arg(file)
        .output()
        .expect("xmllint (libxml2-utils)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
