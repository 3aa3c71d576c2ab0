//! A private nginx on 127.0.0.1 serving one directory, optionally over HTTPS too, for download
//! tests: it runs as the current user in the foreground, keeps its pid, log and temporary files
//! in its own temporary directory, logs the bytes it sends per request, and is killed when
//! dropped.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// nginx as Debian installs it (`/usr/sbin` is not on every user's PATH).
pub fn nginx_bin() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("nginx"))
            .find(|p| p.is_file())
    });
    on_path
        .or_else(|| Some(PathBuf::from("/usr/sbin/nginx")).filter(|p| p.is_file()))
        .unwrap_or_else(|| {
            panic!("nginx is not installed: run ./nanolin test (it installs it) or apt-get install nginx")
        })
}

/// Writes a self-signed certificate for 127.0.0.1 and localhost (P-256, valid two days) as
/// `NAME.crt` and `NAME.key` in `dir`; returns both paths.
pub fn self_signed_certificate(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let config = dir.join(format!("{name}.cnf"));
    fs::write(
        &config,
        format!(
            "[req]\n\
         distinguished_name = dn\n\
         prompt = no\n\
         [dn]\n\
         CN = nanolin test {name}\n\
         [leaf]\n\
         subjectAltName = IP:127.0.0.1, DNS:localhost\n\
         basicConstraints = critical, CA:FALSE\n\
         keyUsage = critical, digitalSignature\n\
         extendedKeyUsage = serverAuth\n"
        ),
    )
    .unwrap();
    let (cert, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    let openssl = super::peer("openssl", "openssl");
    let out = Command::new(openssl)
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .arg("ec_paramgen_curve:prime256v1")
        .args(["-nodes", "-days", "2", "-extensions", "leaf", "-config"])
        .arg(&config)
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// One line of the access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Status sent.
    pub status: u16,
    /// Bytes sent in all, head included (`$bytes_sent`).
    pub bytes_sent: u64,
    /// Bytes of the body sent (`$body_bytes_sent`).
    pub body_bytes_sent: u64,
    /// Method and request target as received.
    pub method: String,
    /// Request target (`$request_uri`).
    pub uri: String,
    /// The `Range` header, if the request had one.
    pub range: Option<String>,
}

/// A running nginx; killed and waited for on drop.
pub struct Nginx {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    tls_port: Option<u16>,
    certificate: Option<PathBuf>,
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

impl Nginx {
    /// nginx serving `root` over HTTP on 127.0.0.1.
    pub fn start(root: &Path) -> Nginx {
        Self::start_inner(root, false)
    }

    /// nginx serving `root` over HTTP and over HTTPS with a self-signed certificate for
    /// 127.0.0.1 ([`Nginx::certificate`]).
    pub fn start_tls(root: &Path) -> Nginx {
        Self::start_inner(root, true)
    }

    fn start_inner(root: &Path, tls: bool) -> Nginx {
        let mut dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("tmp")).unwrap();
        let certificate = tls.then(|| self_signed_certificate(dir.path(), "server"));
        // Another process may take a port between our probe and nginx's bind: try again then.
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port();
            let tls_port = tls.then(free_port);
            let conf = dir.path().join("nginx.conf");
            fs::write(
                &conf,
                config(dir.path(), root, port, tls_port, certificate.as_ref()),
            )
            .unwrap();
            let error_log = dir.path().join("error.log");
            let child = Command::new(nginx_bin())
                .arg("-e")
                .arg(&error_log)
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start nginx");
            let mut nginx = Nginx {
                child,
                dir,
                port,
                tls_port,
                certificate: certificate.as_ref().map(|(cert, _)| cert.clone()),
            };
            match nginx.wait_until_listening() {
                Ok(()) => return nginx,
                Err(e) => {
                    last_error = e;
                    nginx.stop();
                    dir = nginx.take_dir();
                }
            }
        }
        panic!("nginx did not start: {last_error}");
    }

    /// Waits until every port accepts connections, or nginx has exited.
    fn wait_until_listening(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let ports: Vec<u16> = [Some(self.port), self.tls_port]
            .into_iter()
            .flatten()
            .collect();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default();
                return Err(format!("nginx exited ({status}):\n{log}"));
            }
            if ports
                .iter()
                .all(|p| TcpStream::connect(("127.0.0.1", *p)).is_ok())
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("nginx did not listen within 10 s".into());
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Hands the temporary directory over for a retry (this value is dropped right after).
    fn take_dir(&mut self) -> tempfile::TempDir {
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }

    /// The HTTP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The HTTPS port (started with [`Nginx::start_tls`]).
    pub fn tls_port(&self) -> u16 {
        self.tls_port.expect("nginx was started without TLS")
    }

    /// `http://127.0.0.1:PORT/path`.
    pub fn url(&self, path: &str) -> String {
        format!(
            "http://127.0.0.1:{}/{}",
            self.port,
            path.trim_start_matches('/')
        )
    }

    /// `https://127.0.0.1:PORT/path`.
    pub fn https_url(&self, path: &str) -> String {
        format!(
            "https://127.0.0.1:{}/{}",
            self.tls_port(),
            path.trim_start_matches('/')
        )
    }

    /// The server's self-signed certificate (PEM): the CA file a client must trust.
    pub fn certificate(&self) -> &Path {
        self.certificate
            .as_deref()
            .expect("nginx was started without TLS")
    }

    /// The requests logged so far, oldest first.
    pub fn requests(&self) -> Vec<Request> {
        let log = fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default();
        log.lines()
            .map(|line| {
                let f: Vec<&str> = line.split(' ').collect();
                assert_eq!(f.len(), 6, "unexpected access log line {line:?}");
                Request {
                    status: f[0].parse().unwrap(),
                    bytes_sent: f[1].parse().unwrap(),
                    body_bytes_sent: f[2].parse().unwrap(),
                    method: f[3].to_owned(),
                    uri: f[4].to_owned(),
                    range: (f[5] != "-").then(|| f[5].to_owned()),
                }
            })
            .collect()
    }

    /// Waits (at most 5 s) until `n` requests are logged — nginx logs a request just after
    /// sending its last byte — and returns them.
    pub fn wait_for_requests(&self, n: usize) -> Vec<Request> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let requests = self.requests();
            if requests.len() >= n || Instant::now() > deadline {
                return requests;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Total bytes sent for all requests logged so far (heads included).
    pub fn bytes_sent(&self) -> u64 {
        self.requests().iter().map(|r| r.bytes_sent).sum()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The configuration: one server on 127.0.0.1 only, everything nginx writes inside `prefix`.
/// Besides the files, `/redirect/NAME` answers 302 to `/NAME` and `/loop` redirects to itself.
fn config(
    prefix: &Path,
    root: &Path,
    port: u16,
    tls_port: Option<u16>,
    certificate: Option<&(PathBuf, PathBuf)>,
) -> String {
    let p = prefix.display();
    let tls = match (tls_port, certificate) {
        (Some(tls_port), Some((cert, key))) => format!(
            "listen 127.0.0.1:{tls_port} ssl;\n        ssl_certificate {};\n        ssl_certificate_key {};\n",
            cert.display(),
            key.display()
        ),
        _ => String::new(),
    };
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {p}/nginx.pid;
error_log {p}/error.log info;
events {{
    worker_connections 64;
}}
http {{
    log_format nanolin '$status $bytes_sent $body_bytes_sent $request_method $request_uri $http_range';
    access_log {p}/access.log nanolin;
    client_body_temp_path {p}/tmp/body;
    proxy_temp_path {p}/tmp/proxy;
    fastcgi_temp_path {p}/tmp/fastcgi;
    uwsgi_temp_path {p}/tmp/uwsgi;
    scgi_temp_path {p}/tmp/scgi;
    default_type application/octet-stream;
    sendfile on;
    server {{
        listen 127.0.0.1:{port};
        {tls}
        root {root};
        location /redirect/ {{
            rewrite ^/redirect/(.*)$ /$1 redirect;
        }}
        location = /loop {{
            return 302 /loop;
        }}
    }}
}}
"#,
        root = root.display()
    )
}
