//! The agent's HTTP client against a real nginx on 127.0.0.1: whole files, byte ranges and
//! their edge cases, error statuses, redirects, HTTPS with a self-signed certificate, a
//! connection cut in the middle of the body (then resumed with a Range request), and servers
//! that stop answering.

mod common;

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use common::nginx::{self_signed_certificate, Nginx};
use nanolin_agent::http::{
    get, get_limited, HttpError, HttpOptions, Response, Url, SYSTEM_CA_FILE,
};

const MIB: usize = 1024 * 1024;
const BIG_LEN: usize = 10 * MIB;

/// Bytes from a xorshift generator: random-looking, the same every run.
fn random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        bytes.extend_from_slice(&seed.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// A served directory: `big` (10 MiB of random bytes) and `small` (100 bytes).
struct Site {
    dir: tempfile::TempDir,
    big: Vec<u8>,
    small: Vec<u8>,
}

fn site() -> Site {
    let dir = tempfile::tempdir().unwrap();
    let big = random_bytes(BIG_LEN, 0x2545_f491_4f6c_dd1d);
    let small = random_bytes(100, 7);
    std::fs::write(dir.path().join("big"), &big).unwrap();
    std::fs::write(dir.path().join("small"), &small).unwrap();
    Site { dir, big, small }
}

fn url(text: &str) -> Url {
    Url::parse(text).unwrap()
}

fn opts() -> HttpOptions {
    HttpOptions {
        connect_timeout: Duration::from_secs(5),
        io_timeout: Duration::from_secs(10),
        ..HttpOptions::default()
    }
}

fn tls_opts(ca_file: &Path) -> HttpOptions {
    HttpOptions {
        ca_file: Some(ca_file.to_path_buf()),
        ..opts()
    }
}

fn read_body(mut response: Response) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    response.read_to_end(&mut body)?;
    Ok(body)
}

fn fetch(text: &str, range: Option<(u64, u64)>, opts: &HttpOptions) -> Result<Vec<u8>, HttpError> {
    read_body(get(&url(text), range, opts)?)
}

/// A proxy on 127.0.0.1 for one connection: passes the request on to `upstream`, and the
/// first `limit` bytes of the answer back, then closes both connections.
fn cutting_proxy(upstream: u16, limit: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (mut client, _) = listener.accept().unwrap();
        let mut server = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
        let (mut from_client, mut to_server) =
            (client.try_clone().unwrap(), server.try_clone().unwrap());
        let requests = thread::spawn(move || {
            let _ = io::copy(&mut from_client, &mut to_server);
        });
        let mut left = limit;
        let mut buf = vec![0; 64 * 1024];
        while left > 0 {
            let n = match server.read(&mut buf[..left.min(64 * 1024)]) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if client.write_all(&buf[..n]).is_err() {
                break;
            }
            left -= n;
        }
        let _ = client.shutdown(Shutdown::Both);
        let _ = server.shutdown(Shutdown::Both);
        let _ = requests.join();
    });
    port
}

/// A server on 127.0.0.1 for one connection: reads the request head, sends `answer`, then
/// either closes or (`hold`) keeps the connection open, silent, until the client closes it.
fn scripted_server(answer: Vec<u8>, hold: bool) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut buf = [0; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let _ = stream.write_all(&answer);
        if hold {
            while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
        }
    });
    port
}

#[test]
fn whole_file_equals_the_file() {
    let site = site();
    let nginx = Nginx::start(site.dir.path());
    let response = get(&url(&nginx.url("big")), None, &opts()).unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_length(), Some(BIG_LEN as u64));
    assert_eq!(response.total_length(), Some(BIG_LEN as u64));
    let body = read_body(response).unwrap();
    assert!(body == site.big, "the body differs from the file");

    let logged = nginx.wait_for_requests(1);
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!((logged[0].status, logged[0].range.as_deref()), (200, None));
    assert_eq!(logged[0].body_bytes_sent, BIG_LEN as u64);
    assert_eq!(nginx.bytes_sent(), logged[0].bytes_sent);
    assert!(nginx.bytes_sent() > BIG_LEN as u64);
}

#[test]
fn ranges_equal_the_slices_and_cost_only_their_bytes() {
    let site = site();
    let nginx = Nginx::start(site.dir.path());
    let len = BIG_LEN as u64;
    let ranges = [
        (0, 1),
        (0, 4096),
        (len / 2 - 3, len / 2 + MIB as u64 + 17),
        (len - 1, len),
        (0, len),
        (5, 5),
        (len, len),
    ];
    for (start, end) in ranges {
        let response = get(&url(&nginx.url("big")), Some((start, end)), &opts()).unwrap();
        assert_eq!(response.status(), 206);
        assert_eq!(response.content_length(), Some(end - start));
        if start < end {
            assert_eq!(response.total_length(), Some(len));
        }
        let body = read_body(response).unwrap();
        assert!(
            body == site.big[start as usize..end as usize],
            "bytes {start}..{end} differ"
        );
    }
    // Empty ranges send no request; each of the others sent only its bytes.
    let logged = nginx.wait_for_requests(5);
    assert_eq!(logged.len(), 5, "{logged:?}");
    for (request, (start, end)) in logged.iter().zip(ranges) {
        assert_eq!(request.status, 206);
        assert_eq!(
            request.range.as_deref(),
            Some(format!("bytes={start}-{}", end - 1).as_str())
        );
        assert_eq!(request.body_bytes_sent, end - start);
    }
    assert!(logged[0].bytes_sent < 1024, "{:?}", logged[0]);
    assert!(logged[3].bytes_sent < 1024, "{:?}", logged[3]);
}

#[test]
fn ranges_beyond_the_end_are_errors() {
    let site = site();
    let nginx = Nginx::start(site.dir.path());
    let len = BIG_LEN as u64;
    match get(&url(&nginx.url("big")), Some((len, len + 10)), &opts()) {
        Err(e @ HttpError::Status { status: 416, .. }) => {
            assert!(e.to_string().contains("beyond the end of the file"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    // nginx sends what there is (bytes len-5 to len-1): not what was asked, so refused.
    match get(&url(&nginx.url("big")), Some((len - 5, len + 5)), &opts()) {
        Err(e @ HttpError::RangeIgnored { status: 206, .. }) => {
            let message = e.to_string();
            let sent = format!("bytes {}-{}/{len}", len - 5, len - 1);
            assert!(message.contains(&sent), "{message}");
            assert!(
                message.contains(&format!("asked for bytes {}-{}", len - 5, len + 4)),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_file_is_an_error_naming_the_status() {
    let site = site();
    let nginx = Nginx::start(site.dir.path());
    let missing = nginx.url("channels/qemu/stable");
    match get(&url(&missing), None, &opts()) {
        Err(e @ HttpError::Status { status: 404, .. }) => {
            let message = e.to_string();
            assert!(message.contains(&missing), "{message}");
            assert!(message.contains("404 Not Found"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        get(&url(&missing), Some((0, 10)), &opts()),
        Err(HttpError::Status { status: 404, .. })
    ));
}

#[test]
fn get_limited_reads_small_files_and_refuses_long_ones() {
    let site = site();
    let nginx = Nginx::start(site.dir.path());
    let small = url(&nginx.url("small"));
    assert_eq!(get_limited(&small, 100, &opts()).unwrap(), site.small);
    match get_limited(&small, 99, &opts()) {
        Err(
            e @ HttpError::TooLong {
                limit: 99,
                length: Some(100),
                ..
            },
        ) => assert!(e
            .to_string()
            .contains("100 bytes, more than the limit of 99")),
        other => panic!("{other:?}"),
    }
    // Refused on its Content-Length, before 10 MiB are read.
    let started = Instant::now();
    assert!(matches!(
        get_limited(&url(&nginx.url("big")), 16 * 1024, &opts()),
        Err(HttpError::TooLong {
            length: Some(l),
            ..
        }) if l == BIG_LEN as u64
    ));
    assert!(started.elapsed() < Duration::from_secs(5));

    // Without a Content-Length, refused while reading.
    let mut answer = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
    answer.extend_from_slice(&[b'x'; 5000]);
    let port = scripted_server(answer, false);
    let no_length = url(&format!("http://127.0.0.1:{port}/channel"));
    assert!(matches!(
        get_limited(&no_length, 1000, &opts()),
        Err(HttpError::TooLong {
            limit: 1000,
            length: None,
            ..
        })
    ));
}

#[test]
fn redirects_are_followed_up_to_the_limit() {
    let site = site();
    let nginx = Nginx::start(site.dir.path());
    let response = get(&url(&nginx.url("redirect/small")), None, &opts()).unwrap();
    assert_eq!(response.url().to_string(), nginx.url("small"));
    assert_eq!(read_body(response).unwrap(), site.small);
    let ranged = fetch(&nginx.url("redirect/big"), Some((10, 20)), &opts()).unwrap();
    assert_eq!(ranged, site.big[10..20]);

    match get(&url(&nginx.url("loop")), None, &opts()) {
        Err(e @ HttpError::TooManyRedirects { limit: 5, .. }) => {
            assert!(e.to_string().contains("redirect loop"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(nginx.wait_for_requests(2 + 2 + 6).len(), 10);
    let no_redirects = HttpOptions {
        max_redirects: 0,
        ..opts()
    };
    assert!(matches!(
        get(&url(&nginx.url("redirect/small")), None, &no_redirects),
        Err(HttpError::TooManyRedirects { limit: 0, .. })
    ));
}

#[test]
fn https_with_the_servers_certificate_as_ca_file() {
    let site = site();
    let nginx = Nginx::start_tls(site.dir.path());
    let opts = tls_opts(nginx.certificate());
    let body = fetch(&nginx.https_url("big"), None, &opts).unwrap();
    assert!(body == site.big, "the body differs from the file");
    let len = BIG_LEN as u64;
    let tail = fetch(&nginx.https_url("big"), Some((len - 1000, len)), &opts).unwrap();
    assert!(tail == site.big[BIG_LEN - 1000..]);
    // By name, through the system's resolver (the certificate names localhost too).
    let by_name = format!("https://localhost:{}/small", nginx.tls_port());
    assert_eq!(
        get_limited(&url(&by_name), 1000, &opts).unwrap(),
        site.small
    );
}

#[test]
fn https_with_an_untrusted_certificate_fails() {
    let site = site();
    let nginx = Nginx::start_tls(site.dir.path());
    let other = tempfile::tempdir().unwrap();
    let (other_cert, _) = self_signed_certificate(other.path(), "other");
    match get(
        &url(&nginx.https_url("small")),
        None,
        &tls_opts(&other_cert),
    ) {
        Err(e @ HttpError::Certificate { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains("certificate of 127.0.0.1 is not trusted"),
                "{message}"
            );
            assert!(message.contains("UnknownIssuer"), "{message}");
            assert!(
                message.contains(&other_cert.display().to_string()),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Without a CA file, the system's store is used, which does not know the certificate.
    let result = get(&url(&nginx.https_url("small")), None, &opts());
    if Path::new(SYSTEM_CA_FILE).exists() {
        assert!(
            matches!(result, Err(HttpError::Certificate { .. })),
            "{result:?}"
        );
    } else {
        assert!(
            matches!(result, Err(HttpError::CaFile { .. })),
            "{result:?}"
        );
    }
    // A CA file that is missing, or holds no certificate.
    let missing = other.path().join("missing.pem");
    assert!(matches!(
        get(&url(&nginx.https_url("small")), None, &tls_opts(&missing)),
        Err(HttpError::CaFile { path, .. }) if path == missing
    ));
    let key = other.path().join("other.key");
    match get(&url(&nginx.https_url("small")), None, &tls_opts(&key)) {
        Err(e @ HttpError::CaFile { .. }) => {
            assert!(e.to_string().contains("no usable certificate"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    // TLS to the plain HTTP port.
    let wrong_port = format!("https://127.0.0.1:{}/small", nginx.port());
    match get(&url(&wrong_port), None, &tls_opts(nginx.certificate())) {
        Err(e @ HttpError::Tls { .. }) => {
            assert!(e.to_string().contains("speak HTTPS on this port"), "{e}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_cut_connection_is_a_truncation_and_the_rest_resumes() {
    let site = site();
    let nginx = Nginx::start(site.dir.path());
    let len = BIG_LEN as u64;
    let proxy = cutting_proxy(nginx.port(), 3 * MIB);
    let through_proxy = url(&format!("http://127.0.0.1:{proxy}/big"));
    let mut response = get(&through_proxy, None, &opts()).unwrap();
    let mut body = Vec::new();
    let error = response.read_to_end(&mut body).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    match HttpError::from(error) {
        HttpError::Truncated {
            got,
            expected: Some(expected),
            ..
        } => assert_eq!((got, expected), (body.len() as u64, len)),
        other => panic!("{other:?}"),
    }
    assert!(
        body.len() > 2 * MIB && body.len() < 3 * MIB,
        "{}",
        body.len()
    );
    assert!(
        body == site.big[..body.len()],
        "the bytes before the cut differ"
    );

    let rest = fetch(&nginx.url("big"), Some((body.len() as u64, len)), &opts()).unwrap();
    body.extend_from_slice(&rest);
    assert!(body == site.big, "the resumed file differs");

    // A ranged request cut short is a truncation too, against the range's length.
    let proxy = cutting_proxy(nginx.port(), 1000);
    let through_proxy = url(&format!("http://127.0.0.1:{proxy}/big"));
    let result = fetch(
        through_proxy.to_string().as_str(),
        Some((MIB as u64, 2 * MIB as u64)),
        &opts(),
    );
    assert!(
        matches!(result, Err(HttpError::Truncated { expected: Some(e), .. }) if e == MIB as u64),
        "{result:?}"
    );
}

#[test]
fn a_cut_tls_connection_is_a_truncation_too() {
    let site = site();
    let nginx = Nginx::start_tls(site.dir.path());
    let proxy = cutting_proxy(nginx.tls_port(), 2 * MIB);
    let through_proxy = url(&format!("https://127.0.0.1:{proxy}/big"));
    let mut response = get(&through_proxy, None, &tls_opts(nginx.certificate())).unwrap();
    let mut body = Vec::new();
    let error = HttpError::from(response.read_to_end(&mut body).unwrap_err());
    assert!(
        matches!(error, HttpError::Truncated { got, expected: Some(e), .. }
            if got == body.len() as u64 && e == BIG_LEN as u64),
        "{error:?}"
    );
    assert!(body == site.big[..body.len()]);
}

#[test]
fn a_silent_server_times_out() {
    // Connections are accepted by the kernel (backlog), and nothing is ever answered.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let quick = HttpOptions {
        io_timeout: Duration::from_millis(300),
        ..opts()
    };
    let started = Instant::now();
    let result = get(&url(&format!("http://127.0.0.1:{port}/big")), None, &quick);
    let elapsed = started.elapsed();
    match result {
        Err(e @ HttpError::Timeout { .. }) => {
            assert!(e.to_string().contains("did not answer for 0.3 s"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    drop(listener);
}

#[test]
fn a_server_that_stalls_mid_body_times_out() {
    let mut answer = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".to_vec();
    answer.extend_from_slice(b"0123456789");
    let port = scripted_server(answer, true);
    let quick = HttpOptions {
        io_timeout: Duration::from_millis(300),
        ..opts()
    };
    let mut response = get(&url(&format!("http://127.0.0.1:{port}/x")), None, &quick).unwrap();
    let mut body = Vec::new();
    let started = Instant::now();
    let error = response.read_to_end(&mut body).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    assert!(matches!(HttpError::from(error), HttpError::Timeout { .. }));
    assert_eq!(body, b"0123456789");
}

#[test]
fn a_refused_connection_says_so() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    match get(&url(&format!("http://127.0.0.1:{port}/x")), None, &opts()) {
        Err(e @ HttpError::Connect { .. }) => {
            let message = e.to_string();
            assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
            assert!(message.contains("is the update server up?"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}
