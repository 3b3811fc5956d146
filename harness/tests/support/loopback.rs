//! A threaded loopback HTTP/1.1 server for tests: it reads each request
//! (keep-alive, a `Content-Length` body), records `METHOD target`, and sends
//! what the caller's function answers. It stops when dropped. The file
//! mirror (`http.rs`) and the API-server stand-in (`fake_api.rs`) are two
//! such functions.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub struct Request {
    pub method: String,
    /// The path with its query.
    pub target: String,
    #[allow(dead_code)] // the file mirror reads no bodies
    pub body: Vec<u8>,
}

impl Request {
    /// The path without its query.
    #[allow(dead_code)] // the file mirror answers by the whole target
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("/")
    }
}

pub struct Response {
    /// E.g. `200 OK`.
    pub status: &'static str,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

pub struct Loopback {
    pub url: String,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
}

impl Loopback {
    /// Serves on 127.0.0.1 (a free port) until dropped.
    pub fn start(answer: impl Fn(&Request) -> Response + Send + Sync + 'static) -> Loopback {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, halt) = (requests.clone(), stop.clone());
        let answer = Arc::new(answer);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if halt.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(s) = stream {
                    let (seen, answer) = (seen.clone(), answer.clone());
                    std::thread::spawn(move || serve(s, &seen, &*answer));
                }
            }
        });
        Loopback {
            url: format!("http://{addr}"),
            requests,
            stop,
            addr,
        }
    }

    /// `METHOD target` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// One connection: requests until the client closes it.
fn serve(mut s: TcpStream, seen: &Mutex<Vec<String>>, answer: &dyn Fn(&Request) -> Response) {
    let mut reader = BufReader::new(s.try_clone().unwrap());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).map(|n| n == 0).unwrap_or(true) {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).map(|n| n == 0).unwrap_or(true) || h == "\r\n" {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        let mut parts = line.split_whitespace();
        let request = Request {
            method: parts.next().unwrap_or("").to_string(),
            target: parts.next().unwrap_or("/").to_string(),
            body,
        };
        seen.lock()
            .unwrap()
            .push(format!("{} {}", request.method, request.target));
        let r = answer(&request);
        let head = format!(
            "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
            r.status,
            r.content_type,
            r.body.len()
        );
        if s.write_all(head.as_bytes()).is_err() || s.write_all(&r.body).is_err() {
            return;
        }
    }
}
