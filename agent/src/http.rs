//! The agent's HTTP/1.1 client: channel files and byte ranges of update bundles from an
//! update server.
//!
//! One request per connection (`Connection: close`), on [`std::net::TcpStream`], through
//! rustls for `https://` (cargo feature `https`, on by default). [`get`] follows redirects and
//! returns a [`Response`] whose body streams through [`std::io::Read`]; [`get_limited`] reads a
//! small file whole.
//!
//! Everything the server sends is untrusted. The response head goes into one buffer of
//! [`MAX_HEAD_LEN`] bytes and is parsed without panicking whatever it holds, with lines,
//! header fields and chunk-size lines bounded by the named constants below; each refusal is a
//! [`ProtocolError`] naming the limit. The body is framed by Content-Length, the chunked coding
//! or the end of the connection, and a body that stops short is an error
//! ([`HttpError::Truncated`]), never short data: the caller resumes with a Range request for the
//! rest. A ranged request is only answered by `206 Partial Content` for exactly the bytes asked.
#![deny(clippy::indexing_slicing)]

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The `User-Agent` every request carries.
pub const USER_AGENT: &str = concat!("nanolin-agent/", env!("CARGO_PKG_VERSION"));

/// Longest URL accepted, given or from a redirect's `Location`.
pub const MAX_URL_LEN: usize = 2048;

/// Longest response head (status line, header fields and the blank line after them).
pub const MAX_HEAD_LEN: usize = 16 * 1024;

/// Longest line of the response head, or of a chunked body's trailer (without its CRLF).
pub const MAX_LINE_LEN: usize = 8 * 1024;

/// Most header fields in one response head (and trailer fields after a chunked body).
pub const MAX_HEADERS: usize = 64;

/// Longest chunk-size line of a chunked body, extensions included.
pub const MAX_CHUNK_LINE_LEN: usize = 1024;

/// Most interim (1xx) responses skipped before the final one.
pub const MAX_INTERIM_RESPONSES: usize = 8;

/// Largest CA certificate file read (the system store is about 220 KiB).
pub const MAX_CA_FILE_LEN: u64 = 4 * 1024 * 1024;

/// The system's CA certificates (Debian's `ca-certificates`), used when no `ca_file` is given.
pub const SYSTEM_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The URL scheme: plain HTTP or HTTP over TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `http://`, port 80 unless given.
    Http,
    /// `https://`, port 443 unless given.
    Https,
}

impl Scheme {
    /// The port used when the URL names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    /// `"http"` or `"https"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// An `http://` or `https://` URL, checked and split once by [`Url::parse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    scheme: Scheme,
    /// Lower-case host name, dotted IPv4 address, or IPv6 address without brackets.
    host: String,
    port: u16,
    /// Path and query, starting with `/`; the fragment removed.
    target: String,
}

/// What is wrong with a URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlProblem {
    /// Longer than [`MAX_URL_LEN`].
    TooLong,
    /// A byte that is not printable ASCII (spaces and non-ASCII must be percent-encoded).
    InvalidCharacter {
        /// Byte offset of the first such byte.
        at: usize,
    },
    /// No `scheme://` at the start.
    MissingScheme,
    /// A scheme other than `http` or `https`.
    UnsupportedScheme,
    /// `user:password@` in the authority.
    Credentials,
    /// No host between `://` and the path.
    MissingHost,
    /// A host that is neither a host name nor an IPv4 address.
    BadHost,
    /// Text in brackets that is not an IPv6 address.
    BadIpv6,
    /// An IPv6 address without its brackets.
    Ipv6WithoutBrackets,
    /// A port that is not a number from 1 to 65535.
    BadPort,
}

impl fmt::Display for UrlProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlProblem::TooLong => write!(f, "longer than {MAX_URL_LEN} bytes"),
            UrlProblem::InvalidCharacter { at } => write!(
                f,
                "byte {at} is a space, control or non-ASCII character: percent-encode it"
            ),
            UrlProblem::MissingScheme => f.write_str("it must start with http:// or https://"),
            UrlProblem::UnsupportedScheme => f.write_str("only http:// and https:// are supported"),
            UrlProblem::Credentials => {
                f.write_str("user names and passwords in URLs are not supported")
            }
            UrlProblem::MissingHost => f.write_str("no host name or address"),
            UrlProblem::BadHost => f.write_str(
                "the host is not a valid host name (letters, digits, '-', '_' and dots) or IPv4 address",
            ),
            UrlProblem::BadIpv6 => f.write_str("the text in [brackets] is not an IPv6 address"),
            UrlProblem::Ipv6WithoutBrackets => {
                f.write_str("an IPv6 address must be written in brackets, as in http://[::1]:8080/")
            }
            UrlProblem::BadPort => f.write_str("the port is not a number from 1 to 65535"),
        }
    }
}

/// A URL that [`Url::parse`] refused, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlError {
    /// The URL as given (its first 256 characters).
    pub url: String,
    /// What is wrong with it.
    pub problem: UrlProblem,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad URL {:?}: {}", self.url, self.problem)
    }
}

impl std::error::Error for UrlError {}

impl Url {
    /// Parses `http://host[:port][/path][?query][#fragment]` or the same with `https://`.
    ///
    /// The host is a name (resolved when connecting), a dotted IPv4 address, or an IPv6 address
    /// in brackets. The fragment is dropped; an empty path becomes `/`.
    pub fn parse(text: &str) -> Result<Url, UrlError> {
        let fail = |problem| UrlError {
            url: text.chars().take(256).collect(),
            problem,
        };
        if text.len() > MAX_URL_LEN {
            return Err(fail(UrlProblem::TooLong));
        }
        if let Some(at) = text.bytes().position(|b| !(0x21..=0x7e).contains(&b)) {
            return Err(fail(UrlProblem::InvalidCharacter { at }));
        }
        let (scheme, rest) = text
            .split_once("://")
            .ok_or(fail(UrlProblem::MissingScheme))?;
        let scheme = if scheme.eq_ignore_ascii_case("http") {
            Scheme::Http
        } else if scheme.eq_ignore_ascii_case("https") {
            Scheme::Https
        } else {
            return Err(fail(UrlProblem::UnsupportedScheme));
        };
        let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at_checked(split).unwrap_or((rest, ""));
        let target = target.split('#').next().unwrap_or("");
        let target = if target.starts_with('/') {
            target.to_owned()
        } else {
            format!("/{target}")
        };
        if authority.contains('@') {
            return Err(fail(UrlProblem::Credentials));
        }
        if authority.is_empty() {
            return Err(fail(UrlProblem::MissingHost));
        }
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (address, after) = bracketed.split_once(']').ok_or(fail(UrlProblem::BadIpv6))?;
            let address: Ipv6Addr = address.parse().map_err(|_| fail(UrlProblem::BadIpv6))?;
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or(fail(UrlProblem::BadPort))?),
            };
            (address.to_string(), port)
        } else {
            let (host, port) = match authority.split_once(':') {
                Some((_, port)) if port.contains(':') => {
                    return Err(fail(UrlProblem::Ipv6WithoutBrackets))
                }
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            };
            if host.is_empty() {
                return Err(fail(UrlProblem::MissingHost));
            }
            if host.parse::<Ipv4Addr>().is_err() && !is_host_name(host) {
                return Err(fail(UrlProblem::BadHost));
            }
            (host.to_ascii_lowercase(), port)
        };
        let port = match port {
            None => scheme.default_port(),
            Some(port) => parse_port(port).ok_or(fail(UrlProblem::BadPort))?,
        };
        Ok(Url {
            scheme,
            host,
            port,
            target,
        })
    }

    /// Resolves a redirect's `Location` (absolute, scheme-relative `//host/…`, absolute path
    /// `/…`, query `?…` or relative path) against this URL.
    pub fn join(&self, reference: &str) -> Result<Url, UrlError> {
        let base = format!("{}://{}", self.scheme.as_str(), self.authority());
        let path = self.path();
        let absolute = if reference.starts_with("//") {
            format!("{}:{reference}", self.scheme.as_str())
        } else if has_scheme(reference) {
            reference.to_owned()
        } else if reference.starts_with('/') {
            format!("{base}{reference}")
        } else if reference.is_empty() || reference.starts_with('#') {
            format!("{base}{}", self.target)
        } else if reference.starts_with('?') {
            format!("{base}{path}{reference}")
        } else {
            let dir = path.rfind('/').and_then(|i| path.get(..=i)).unwrap_or("/");
            format!("{base}{dir}{reference}")
        };
        Url::parse(&absolute)
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host: a lower-case name, a dotted IPv4 address, or an IPv6 address (no brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, the scheme's default when the URL names none.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Path and query, as sent in the request line (starts with `/`).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("/")
    }

    /// `host[:port]` as in the `Host` header: IPv6 in brackets, the default port left out.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == self.scheme.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// `host:port` with the port always given, as in connection messages.
    fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme.as_str(),
            self.authority(),
            self.target
        )
    }
}

/// Letters, digits, `-` and `_` in dot-separated labels of 1 to 63 bytes, 253 bytes in all (one
/// trailing dot allowed).
fn is_host_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// 1 to 65535, decimal digits only.
fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|&port| port != 0)
}

/// Whether a URL reference starts with `scheme:` (RFC 3986: a letter, then letters, digits,
/// `+`, `-` or `.`).
fn has_scheme(reference: &str) -> bool {
    let Some((scheme, _)) = reference.split_once(':') else {
        return false;
    };
    let mut bytes = scheme.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// How requests are made: timeouts, redirects and the certificates trusted for HTTPS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpOptions {
    /// Longest wait for a TCP connection to be accepted (per address of the host).
    pub connect_timeout: Duration,
    /// Longest wait for each read or write on the connection, TLS handshake included.
    pub io_timeout: Duration,
    /// Most redirects followed for one request.
    pub max_redirects: u32,
    /// PEM file of the CA certificates trusted for HTTPS; [`SYSTEM_CA_FILE`] when `None`.
    pub ca_file: Option<PathBuf>,
}

impl Default for HttpOptions {
    /// 10 s to connect, 30 s per read or write, 5 redirects, the system's CA certificates.
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(30),
            max_redirects: 5,
            ca_file: None,
        }
    }
}

impl HttpOptions {
    /// The CA file used for HTTPS.
    pub fn ca_file(&self) -> &Path {
        self.ca_file.as_deref().unwrap_or(Path::new(SYSTEM_CA_FILE))
    }
}

/// What is wrong with a server's response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    /// The server closed the connection before sending anything.
    EmptyResponse,
    /// The connection ended in the middle of the response head.
    TruncatedHead,
    /// The head is longer than [`MAX_HEAD_LEN`].
    HeadTooLarge,
    /// A line of the head or trailer is longer than [`MAX_LINE_LEN`].
    LineTooLong,
    /// More than [`MAX_HEADERS`] header or trailer fields.
    TooManyHeaders,
    /// The status line is not `HTTP/1.x NNN reason`.
    BadStatusLine,
    /// A version other than HTTP/1.0 or HTTP/1.1.
    UnsupportedVersion,
    /// A header line without a colon, with an invalid name, a control character, or folded onto
    /// the next line.
    BadHeaderLine,
    /// `Content-Length` is not a decimal number.
    BadContentLength,
    /// Two different `Content-Length` values.
    ConflictingContentLength,
    /// A `Transfer-Encoding` other than `chunked`.
    UnsupportedTransferEncoding,
    /// `Content-Range` is not `bytes FIRST-LAST/LENGTH` (or `*` for either part).
    BadContentRange,
    /// `Location` or `Content-Range` given twice.
    DuplicateHeader,
    /// `Content-Length` and `Content-Range` disagree on the body's length.
    LengthMismatch,
    /// 206 Partial Content to a request without a range.
    UnaskedPartialContent,
    /// 101 Switching Protocols to a plain GET.
    UnexpectedSwitch,
    /// More than [`MAX_INTERIM_RESPONSES`] interim (1xx) responses.
    TooManyInterimResponses,
    /// A chunk-size line of a chunked body is malformed, or a chunk does not end in CRLF.
    BadChunk,
    /// A chunk-size line is longer than [`MAX_CHUNK_LINE_LEN`].
    ChunkLineTooLong,
    /// The body goes on past the length announced for it.
    BodyTooLong,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::EmptyResponse => {
                f.write_str("the server closed the connection without answering")
            }
            ProtocolError::TruncatedHead => {
                f.write_str("the connection ended in the middle of the response head")
            }
            ProtocolError::HeadTooLarge => {
                write!(f, "the response head is longer than {MAX_HEAD_LEN} bytes")
            }
            ProtocolError::LineTooLong => {
                write!(f, "a header line is longer than {MAX_LINE_LEN} bytes")
            }
            ProtocolError::TooManyHeaders => write!(f, "more than {MAX_HEADERS} header fields"),
            ProtocolError::BadStatusLine => {
                f.write_str("the status line is not \"HTTP/1.x NNN reason\"")
            }
            ProtocolError::UnsupportedVersion => {
                f.write_str("not an HTTP/1.0 or HTTP/1.1 response")
            }
            ProtocolError::BadHeaderLine => f.write_str(
                "a header line is malformed (no colon, an invalid name, a control character, or folded)",
            ),
            ProtocolError::BadContentLength => f.write_str("Content-Length is not a number"),
            ProtocolError::ConflictingContentLength => {
                f.write_str("two different Content-Length values")
            }
            ProtocolError::UnsupportedTransferEncoding => {
                f.write_str("a Transfer-Encoding other than chunked")
            }
            ProtocolError::BadContentRange => {
                f.write_str("Content-Range is not \"bytes FIRST-LAST/LENGTH\"")
            }
            ProtocolError::DuplicateHeader => f.write_str("Location or Content-Range given twice"),
            ProtocolError::LengthMismatch => {
                f.write_str("Content-Length and Content-Range disagree on the body's length")
            }
            ProtocolError::UnaskedPartialContent => {
                f.write_str("206 Partial Content to a request for the whole file")
            }
            ProtocolError::UnexpectedSwitch => {
                f.write_str("101 Switching Protocols to a plain GET")
            }
            ProtocolError::TooManyInterimResponses => write!(
                f,
                "more than {MAX_INTERIM_RESPONSES} interim (1xx) responses"
            ),
            ProtocolError::BadChunk => f.write_str("the chunked body is malformed"),
            ProtocolError::ChunkLineTooLong => write!(
                f,
                "a chunk-size line is longer than {MAX_CHUNK_LINE_LEN} bytes"
            ),
            ProtocolError::BodyTooLong => {
                f.write_str("the body is longer than the length announced for it")
            }
        }
    }
}

impl std::error::Error for ProtocolError {}

/// Why a request failed.
#[derive(Debug)]
pub enum HttpError {
    /// A URL is not one this client can fetch.
    Url(UrlError),
    /// The host name did not resolve.
    Resolve {
        /// The host name.
        host: String,
        /// The resolver's answer.
        error: io::Error,
    },
    /// No address of the host accepted the connection.
    Connect {
        /// `host:port`.
        address: String,
        /// The last address's error.
        error: io::Error,
    },
    /// The connection was not accepted within `connect_timeout`.
    ConnectTimeout {
        /// `host:port`.
        address: String,
        /// The timeout that ran out.
        timeout: Duration,
    },
    /// A read or write did not progress within `io_timeout`.
    Timeout {
        /// The URL being fetched.
        url: String,
        /// The timeout that ran out.
        timeout: Duration,
    },
    /// Reading or writing the connection failed.
    Io {
        /// The URL being fetched (empty when unknown).
        url: String,
        /// The system's error.
        error: io::Error,
    },
    /// An `https://` URL, but this agent is built without the `https` feature.
    HttpsUnsupported {
        /// The URL.
        url: String,
    },
    /// The CA certificate file could not be used.
    CaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// The server's certificate is not trusted (unknown issuer, expired, wrong name…).
    Certificate {
        /// The host whose certificate it is.
        host: String,
        /// The CA file it was checked against.
        ca_file: PathBuf,
        /// The TLS library's verdict.
        error: io::Error,
    },
    /// The TLS handshake or session failed for another reason.
    Tls {
        /// The URL being fetched.
        url: String,
        /// The TLS library's error.
        error: io::Error,
    },
    /// The server's response is not valid HTTP/1.x.
    Protocol {
        /// The URL being fetched.
        url: String,
        /// What is wrong.
        error: ProtocolError,
    },
    /// The server answered with a status other than success (2xx) or a redirect.
    Status {
        /// The URL that answered.
        url: String,
        /// The status code.
        status: u16,
        /// The reason phrase of the status line.
        reason: String,
    },
    /// A redirect without a `Location`, or to a URL that cannot be fetched.
    BadRedirect {
        /// The URL that redirected.
        url: String,
        /// The redirect's status.
        status: u16,
        /// Why the `Location` was refused; `None` when there was none.
        problem: Option<UrlError>,
    },
    /// A redirect from `https://` to `http://`, refused.
    InsecureRedirect {
        /// The `https://` URL.
        from: String,
        /// The `http://` URL it pointed to.
        to: String,
    },
    /// More redirects than `max_redirects`.
    TooManyRedirects {
        /// The URL first asked for.
        url: String,
        /// The limit.
        limit: u32,
    },
    /// A range whose start lies after its end.
    BadRange {
        /// First byte asked for.
        start: u64,
        /// One past the last byte asked for.
        end: u64,
    },
    /// The server did not answer a ranged request with exactly the bytes asked for.
    RangeIgnored {
        /// The URL.
        url: String,
        /// First byte asked for.
        start: u64,
        /// One past the last byte asked for.
        end: u64,
        /// The status the server answered with.
        status: u16,
        /// The `Content-Range` it sent, if any.
        content_range: Option<String>,
    },
    /// The body is longer than the caller allows ([`get_limited`]).
    TooLong {
        /// The URL.
        url: String,
        /// The caller's limit in bytes.
        limit: u64,
        /// The length the server announced, when it did.
        length: Option<u64>,
    },
    /// The connection ended before the whole body arrived. The bytes read so far are good:
    /// resume with a Range request from there.
    Truncated {
        /// The URL.
        url: String,
        /// Body bytes received.
        got: u64,
        /// Body bytes announced, when known (not for a chunked body of unknown length).
        expected: Option<u64>,
    },
}

/// A duration as people read it: `10 s`, `0.3 s`.
struct Secs(Duration);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.subsec_millis() == 0 {
            write!(f, "{} s", self.0.as_secs())
        } else {
            write!(f, "{:.1} s", self.0.as_secs_f64())
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Url(e) => e.fmt(f),
            HttpError::Resolve { host, error } => write!(
                f,
                "cannot resolve host {host}: {error}: check the server name and the board's DNS settings"
            ),
            HttpError::Connect { address, error } => write!(
                f,
                "cannot connect to {address}: {error}: is the update server up?"
            ),
            HttpError::ConnectTimeout { address, timeout } => write!(
                f,
                "connection to {address} timed out after {}: is the update server up?",
                Secs(*timeout)
            ),
            HttpError::Timeout { url, timeout } => write!(
                f,
                "{url}: the server did not answer for {}: it may be overloaded or stuck; try again later",
                Secs(*timeout)
            ),
            HttpError::Io { url, error } if url.is_empty() => error.fmt(f),
            HttpError::Io { url, error } => write!(f, "{url}: {error}"),
            HttpError::HttpsUnsupported { url } => write!(
                f,
                "{url}: this agent is built without HTTPS support (cargo feature `https`): use an http:// URL or rebuild"
            ),
            HttpError::CaFile { path, problem } => {
                write!(f, "cannot use CA certificates from {}: {problem}", path.display())
            }
            HttpError::Certificate {
                host,
                ca_file,
                error,
            } => write!(
                f,
                "the certificate of {host} is not trusted ({error}): give the CA that signed it as the CA file (now {}), and check the board's clock",
                ca_file.display()
            ),
            HttpError::Tls { url, error } => write!(f, "{url}: TLS failed: {error}"),
            HttpError::Protocol { url, error } => {
                write!(f, "{url}: invalid response from the server: {error}")
            }
            HttpError::Status {
                url,
                status,
                reason,
            } => {
                write!(f, "GET {url}: {status} {reason}")?;
                match status {
                    404 | 410 => f.write_str(": the file is not on the server; check the URL and that the release is published"),
                    401 | 403 => f.write_str(": the server refuses access to it"),
                    416 => f.write_str(": the range lies beyond the end of the file"),
                    500..=599 => f.write_str(": the server failed; try again later"),
                    _ => Ok(()),
                }
            }
            HttpError::BadRedirect {
                url,
                status,
                problem: None,
            } => write!(f, "{url}: redirect ({status}) without a Location header"),
            HttpError::BadRedirect {
                url,
                status,
                problem: Some(e),
            } => write!(f, "{url}: redirect ({status}) to an unusable URL: {e}"),
            HttpError::InsecureRedirect { from, to } => write!(
                f,
                "{from}: refusing the redirect to {to}, which is not HTTPS"
            ),
            HttpError::TooManyRedirects { url, limit } => write!(
                f,
                "{url}: more than {limit} redirects: check the server's configuration for a redirect loop"
            ),
            HttpError::BadRange { start, end } => write!(
                f,
                "the range from byte {start} to {end} ends before it starts"
            ),
            HttpError::RangeIgnored {
                url,
                start,
                end,
                status,
                content_range,
            } => {
                let last = end.saturating_sub(1);
                match content_range {
                    None => write!(
                        f,
                        "{url}: the server ignored the range request for bytes {start}-{last} (it answered {status} without Content-Range): serve updates from a server that supports Range requests"
                    ),
                    Some(got) => write!(
                        f,
                        "{url}: asked for bytes {start}-{last}, the server answered {status} with {got}: the file on the server is not the one expected"
                    ),
                }
            }
            HttpError::TooLong {
                url,
                limit,
                length: Some(length),
            } => write!(
                f,
                "{url}: {length} bytes, more than the limit of {limit}: is the URL right?"
            ),
            HttpError::TooLong {
                url,
                limit,
                length: None,
            } => write!(
                f,
                "{url}: longer than the limit of {limit} bytes: is the URL right?"
            ),
            HttpError::Truncated {
                url,
                got,
                expected: Some(expected),
            } => write!(
                f,
                "{url}: the connection ended after {got} of {expected} bytes: resume from byte {got} with a Range request"
            ),
            HttpError::Truncated {
                url,
                got,
                expected: None,
            } => write!(
                f,
                "{url}: the connection ended after {got} bytes, before the end of the chunked body"
            ),
        }
    }
}

impl std::error::Error for HttpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HttpError::Url(e) => Some(e),
            HttpError::Resolve { error, .. }
            | HttpError::Connect { error, .. }
            | HttpError::Io { error, .. }
            | HttpError::Certificate { error, .. }
            | HttpError::Tls { error, .. } => Some(error),
            HttpError::Protocol { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl From<UrlError> for HttpError {
    fn from(e: UrlError) -> Self {
        HttpError::Url(e)
    }
}

impl From<io::Error> for HttpError {
    /// Recovers the [`HttpError`] inside an error from [`Response`]'s `read` (each carries one);
    /// any other I/O error becomes [`HttpError::Io`].
    fn from(e: io::Error) -> Self {
        let kind = e.kind();
        if !e.get_ref().is_some_and(|inner| inner.is::<HttpError>()) {
            return HttpError::Io {
                url: String::new(),
                error: e,
            };
        }
        match e.into_inner().map(|inner| inner.downcast::<HttpError>()) {
            Some(Ok(inner)) => *inner,
            _ => HttpError::Io {
                url: String::new(),
                error: io::Error::from(kind),
            },
        }
    }
}

impl HttpError {
    /// The error as `std::io::Error` of a fitting kind, for [`Read`]: `UnexpectedEof` for
    /// [`HttpError::Truncated`], `TimedOut` for [`HttpError::Timeout`], `InvalidData` for a
    /// protocol error.
    fn into_io(self) -> io::Error {
        let kind = match &self {
            HttpError::Truncated { .. } => io::ErrorKind::UnexpectedEof,
            HttpError::Timeout { .. } => io::ErrorKind::TimedOut,
            HttpError::Io { error, .. } => error.kind(),
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, self)
    }
}

/// An I/O error on an open connection, named for what it means here.
fn io_error(url: &str, timeout: Duration, e: io::Error) -> HttpError {
    let url = url.to_owned();
    if matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ) {
        return HttpError::Timeout { url, timeout };
    }
    #[cfg(feature = "https")]
    if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
        return HttpError::Tls { url, error: e };
    }
    HttpError::Io { url, error: e }
}

/// A response whose head has been read; its body streams through [`Read`].
///
/// Reading ends (`Ok(0)`) only at the true end of the body. A connection that ends early
/// makes `read` fail with `UnexpectedEof` carrying [`HttpError::Truncated`]; every error from
/// `read` carries an [`HttpError`], which `HttpError::from(io_error)` recovers.
pub struct Response {
    status: u16,
    content_length: Option<u64>,
    total_length: Option<u64>,
    url: Url,
    body: Option<Body<Conn>>,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("content_length", &self.content_length)
            .field("total_length", &self.total_length)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Response {
    /// The status code: 200, 204 or 206 (any other is an error from [`get`]).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Length of the body in bytes when known in advance: `Content-Length`, or the length of
    /// the range asked for. `None` for a whole file sent chunked or until the connection closes.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// Length of the whole file when the server said it (`Content-Length` of a 200, the length
    /// after the slash of a 206's `Content-Range`).
    pub fn total_length(&self) -> Option<u64> {
        self.total_length
    }

    /// The URL that answered, after redirects.
    pub fn url(&self) -> &Url {
        &self.url
    }
}

impl Read for Response {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.body {
            Some(body) => body.read(buf),
            None => Ok(0),
        }
    }
}

/// Fetches `url`, or the bytes `start..end` of it when `range` is given, following up to
/// `opts.max_redirects` redirects (301, 302, 303, 307, 308).
///
/// Returns once the response head has arrived with a success status; the body is read from
/// the [`Response`]. A ranged request must be answered `206 Partial Content` with a
/// `Content-Range` for exactly the bytes asked ([`HttpError::RangeIgnored`] otherwise). An empty
/// range (`start == end`) gets an empty `206` without asking the server: HTTP cannot express it.
pub fn get(
    url: &Url,
    range: Option<(u64, u64)>,
    opts: &HttpOptions,
) -> Result<Response, HttpError> {
    if let Some((start, end)) = range {
        if start > end {
            return Err(HttpError::BadRange { start, end });
        }
        if start == end {
            return Ok(Response {
                status: 206,
                content_length: Some(0),
                total_length: None,
                url: url.clone(),
                body: None,
            });
        }
    }
    let mut tls = None;
    let mut current = url.clone();
    let mut redirects = 0;
    loop {
        let name = current.to_string();
        let mut conn = open(&current, opts, &mut tls)?;
        conn.send(&request(&current, range))
            .map_err(|e| io_error(&name, opts.io_timeout, e))?;
        let mut stream = Buffered::new(conn);
        let head = read_head(&mut stream).map_err(|e| e.into_http(&name, opts.io_timeout, None))?;
        if matches!(head.status, 301 | 302 | 303 | 307 | 308) {
            let bad_redirect = |problem| HttpError::BadRedirect {
                url: name.clone(),
                status: head.status,
                problem,
            };
            let location = head.location.as_deref().ok_or_else(|| bad_redirect(None))?;
            let next = current.join(location).map_err(|e| bad_redirect(Some(e)))?;
            if current.scheme == Scheme::Https && next.scheme == Scheme::Http {
                return Err(HttpError::InsecureRedirect {
                    from: name,
                    to: next.to_string(),
                });
            }
            if redirects >= opts.max_redirects {
                return Err(HttpError::TooManyRedirects {
                    url: url.to_string(),
                    limit: opts.max_redirects,
                });
            }
            redirects += 1;
            current = next;
            continue;
        }
        if !(200..300).contains(&head.status) {
            return Err(HttpError::Status {
                url: name,
                status: head.status,
                reason: head.reason,
            });
        }
        let body = Body::new(stream, &head, range, name, opts.io_timeout)?;
        let total_length = match range {
            Some(_) => head.content_range.and_then(|c| c.complete),
            None => head.content_length,
        };
        return Ok(Response {
            status: head.status,
            content_length: body.expected,
            total_length,
            url: current,
            body: Some(body),
        });
    }
}

/// Fetches a small file whole (a channel file, a signature), refusing one longer than
/// `max_len`: before reading it when its `Content-Length` says so, while reading otherwise.
pub fn get_limited(url: &Url, max_len: u64, opts: &HttpOptions) -> Result<Vec<u8>, HttpError> {
    let mut response = get(url, None, opts)?;
    let name = response.url.to_string();
    let too_long = |length| HttpError::TooLong {
        url: name.clone(),
        limit: max_len,
        length,
    };
    if let Some(length) = response.content_length {
        if length > max_len {
            return Err(too_long(Some(length)));
        }
    }
    let capacity = response.content_length.unwrap_or(0).min(max_len);
    let mut body = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    (&mut response)
        .take(max_len.saturating_add(1))
        .read_to_end(&mut body)?;
    if u64::try_from(body.len()).unwrap_or(u64::MAX) > max_len {
        return Err(too_long(None));
    }
    Ok(body)
}

/// The request head.
fn request(url: &Url, range: Option<(u64, u64)>) -> String {
    let mut head = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {USER_AGENT}\r\nAccept: */*\r\nAccept-Encoding: identity\r\n",
        url.target,
        url.authority()
    );
    if let Some((start, end)) = range {
        head.push_str(&format!(
            "Range: bytes={start}-{}\r\n",
            end.saturating_sub(1)
        ));
    }
    head.push_str("Connection: close\r\n\r\n");
    head
}

/// TCP connection to the first address of the URL's host that accepts, with the I/O timeouts
/// set.
fn connect(url: &Url, opts: &HttpOptions) -> Result<TcpStream, HttpError> {
    let address = url.address();
    let addresses: Vec<SocketAddr> = match url.host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, url.port)],
        Err(_) => (url.host.as_str(), url.port)
            .to_socket_addrs()
            .map_err(|error| HttpError::Resolve {
                host: url.host.clone(),
                error,
            })?
            .collect(),
    };
    // std refuses zero timeouts.
    let connect_timeout = opts.connect_timeout.max(Duration::from_millis(1));
    let io_timeout = opts.io_timeout.max(Duration::from_millis(1));
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in addresses {
        match TcpStream::connect_timeout(&addr, connect_timeout) {
            Ok(stream) => {
                let set = stream
                    .set_read_timeout(Some(io_timeout))
                    .and_then(|()| stream.set_write_timeout(Some(io_timeout)))
                    .and_then(|()| stream.set_nodelay(true));
                return match set {
                    Ok(()) => Ok(stream),
                    Err(error) => Err(HttpError::Connect { address, error }),
                };
            }
            Err(e) => last = e,
        }
    }
    if matches!(
        last.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    ) {
        return Err(HttpError::ConnectTimeout {
            address,
            timeout: opts.connect_timeout,
        });
    }
    if last.kind() == io::ErrorKind::NotFound {
        return Err(HttpError::Resolve {
            host: url.host.clone(),
            error: last,
        });
    }
    Err(HttpError::Connect {
        address,
        error: last,
    })
}

/// TLS settings, built once per [`get`] (on its first `https://` hop).
#[cfg(feature = "https")]
type TlsConfig = std::sync::Arc<rustls::ClientConfig>;
/// Without the `https` feature there is nothing to build.
#[cfg(not(feature = "https"))]
type TlsConfig = std::convert::Infallible;

/// A connection to the URL's server, over TLS for `https://`.
fn open(url: &Url, opts: &HttpOptions, tls: &mut Option<TlsConfig>) -> Result<Conn, HttpError> {
    match url.scheme {
        Scheme::Http => Ok(Conn::Plain(connect(url, opts)?)),
        #[cfg(feature = "https")]
        Scheme::Https => {
            let config = match tls {
                Some(config) => config.clone(),
                None => tls.insert(tls::config(opts.ca_file())?).clone(),
            };
            tls::handshake(config, url, connect(url, opts)?, opts)
        }
        #[cfg(not(feature = "https"))]
        Scheme::Https => {
            let _ = tls;
            Err(HttpError::HttpsUnsupported {
                url: url.to_string(),
            })
        }
    }
}

/// HTTPS: rustls with ring, TLS 1.3 and 1.2, server certificates checked by webpki against the
/// CA file.
#[cfg(feature = "https")]
mod tls {
    use std::fs::File;
    use std::io::Read;
    use std::net::TcpStream;
    use std::path::Path;
    use std::sync::Arc;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

    use super::{io_error, Conn, HttpError, HttpOptions, TlsConfig, Url, MAX_CA_FILE_LEN};

    /// Client settings trusting the certificates in `ca_file`.
    pub(super) fn config(ca_file: &Path) -> Result<TlsConfig, HttpError> {
        let fail = |problem: String| HttpError::CaFile {
            path: ca_file.to_path_buf(),
            problem,
        };
        let mut pem = Vec::new();
        File::open(ca_file)
            .and_then(|file| file.take(MAX_CA_FILE_LEN + 1).read_to_end(&mut pem))
            .map_err(|e| fail(e.to_string()))?;
        if u64::try_from(pem.len()).unwrap_or(u64::MAX) > MAX_CA_FILE_LEN {
            return Err(fail(format!("larger than {MAX_CA_FILE_LEN} bytes")));
        }
        let certificates = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| fail(format!("not a PEM file: {e}")))?;
        let mut roots = RootCertStore::empty();
        let (added, _ignored) = roots.add_parsable_certificates(certificates);
        if added == 0 {
            return Err(fail(
                "it holds no usable certificate (PEM \"BEGIN CERTIFICATE\" blocks)".to_owned(),
            ));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| fail(format!("TLS setup failed: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }

    /// Runs the TLS handshake on `sock`, checking the server's certificate.
    pub(super) fn handshake(
        config: TlsConfig,
        url: &Url,
        mut sock: TcpStream,
        opts: &HttpOptions,
    ) -> Result<Conn, HttpError> {
        let name = url.to_string();
        let tls_error = |error| HttpError::Tls {
            url: name.clone(),
            error,
        };
        let server = ServerName::try_from(url.host().to_owned())
            .map_err(|e| tls_error(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?;
        let mut conn = ClientConnection::new(config, server)
            .map_err(|e| tls_error(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
        while conn.is_handshaking() {
            match conn.complete_io(&mut sock) {
                Ok((0, 0)) => {
                    return Err(tls_error(std::io::Error::other("the handshake stalled")));
                }
                Ok(_) => {}
                Err(e) => {
                    let certificate = e
                        .get_ref()
                        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                        .is_some_and(|inner| matches!(inner, rustls::Error::InvalidCertificate(_)));
                    if certificate {
                        return Err(HttpError::Certificate {
                            host: url.host().to_owned(),
                            ca_file: opts.ca_file().to_path_buf(),
                            error: e,
                        });
                    }
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData
                    ) {
                        return Err(tls_error(std::io::Error::new(
                            e.kind(),
                            format!(
                                "handshake failed ({e}): does the server speak HTTPS on this port?"
                            ),
                        )));
                    }
                    return Err(io_error(&name, opts.io_timeout, e));
                }
            }
        }
        Ok(Conn::Tls(Box::new(StreamOwned::new(conn, sock))))
    }
}

/// An open connection, plain or TLS.
enum Conn {
    /// `http://`.
    Plain(TcpStream),
    /// `https://`.
    #[cfg(feature = "https")]
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Conn {
    /// Sends the request head.
    fn send(&mut self, request: &str) -> io::Result<()> {
        match self {
            Conn::Plain(stream) => stream.write_all(request.as_bytes()),
            #[cfg(feature = "https")]
            Conn::Tls(stream) => {
                stream.write_all(request.as_bytes())?;
                stream.flush()
            }
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(stream) => stream.read(buf),
            #[cfg(feature = "https")]
            Conn::Tls(stream) => stream.read(buf),
        }
    }
}

/// Why reading the response failed, before the URL is known to name it.
#[derive(Debug)]
enum WireError {
    /// The connection failed.
    Io(io::Error),
    /// The connection ended inside the body.
    Eof,
    /// The server broke the protocol.
    Protocol(ProtocolError),
}

impl From<io::Error> for WireError {
    fn from(e: io::Error) -> Self {
        WireError::Io(e)
    }
}

impl From<ProtocolError> for WireError {
    fn from(e: ProtocolError) -> Self {
        WireError::Protocol(e)
    }
}

impl WireError {
    /// The error for the caller; `got` and `expected` describe the body when it broke off.
    fn into_http(
        self,
        url: &str,
        timeout: Duration,
        body: Option<(u64, Option<u64>)>,
    ) -> HttpError {
        let truncated = || {
            let (got, expected) = body.unwrap_or((0, None));
            HttpError::Truncated {
                url: url.to_owned(),
                got,
                expected,
            }
        };
        match self {
            WireError::Eof => truncated(),
            // A connection reset inside the body, or a TCP end without TLS close_notify (which
            // rustls reports as UnexpectedEof), cuts the body short like a plain end does.
            WireError::Io(e)
                if body.is_some()
                    && matches!(
                        e.kind(),
                        io::ErrorKind::UnexpectedEof
                            | io::ErrorKind::ConnectionReset
                            | io::ErrorKind::ConnectionAborted
                    ) =>
            {
                truncated()
            }
            WireError::Io(e) => io_error(url, timeout, e),
            WireError::Protocol(error) => HttpError::Protocol {
                url: url.to_owned(),
                error,
            },
        }
    }
}

/// Reads from `reader`, retrying when interrupted by a signal.
fn read_retrying<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            result => return result,
        }
    }
}

/// A reader with one fixed buffer of [`MAX_HEAD_LEN`] bytes, for the head, chunk-size lines
/// and small body reads. Invariant: `start <= end <= buf.len()`.
struct Buffered<R> {
    inner: R,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl<R: Read> Buffered<R> {
    fn new(inner: R) -> Self {
        Buffered {
            inner,
            buf: vec![0; MAX_HEAD_LEN].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    /// The bytes read but not consumed.
    fn buffered(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or(&[])
    }

    /// Drops `n` buffered bytes.
    fn consume(&mut self, n: usize) {
        self.start = self.start.saturating_add(n).min(self.end);
    }

    /// Reads more after the buffered bytes, moving those to the front first; `Ok(0)` at the
    /// end of the stream.
    fn fill_more(&mut self) -> Result<usize, WireError> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let free = self.buf.get_mut(self.end..).unwrap_or(&mut []);
        if free.is_empty() {
            return Err(WireError::Protocol(ProtocolError::HeadTooLarge));
        }
        let n = read_retrying(&mut self.inner, free)?;
        self.end = self.end.saturating_add(n).min(self.buf.len());
        Ok(n)
    }

    /// Makes sure a whole line is buffered and returns its length with the `\n`; a line longer
    /// than `max` (with its `\n`) is `too_long`, the end of the stream before `\n` is `Eof`.
    fn fill_line(&mut self, max: usize, too_long: ProtocolError) -> Result<usize, WireError> {
        let mut scanned = 0;
        loop {
            let buffered = self.buffered();
            let found = buffered
                .get(scanned..)
                .and_then(|rest| rest.iter().position(|&b| b == b'\n'));
            if let Some(i) = found {
                let len = scanned.saturating_add(i).saturating_add(1);
                return if len > max {
                    Err(WireError::Protocol(too_long))
                } else {
                    Ok(len)
                };
            }
            scanned = buffered.len();
            if scanned >= max {
                return Err(WireError::Protocol(too_long));
            }
            if self.fill_more()? == 0 {
                return Err(WireError::Eof);
            }
        }
    }

    /// Reads body bytes: buffered ones first, then straight into `out` when it is large.
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if out.len() >= self.buf.len() {
                return read_retrying(&mut self.inner, out);
            }
            let n = read_retrying(&mut self.inner, &mut self.buf)?;
            self.end = n.min(self.buf.len());
        }
        let mut n = 0;
        for (to, from) in out.iter_mut().zip(self.buffered()) {
            *to = *from;
            n += 1;
        }
        self.consume(n);
        Ok(n)
    }
}

/// `Content-Range: bytes FIRST-LAST/LENGTH`, either side possibly `*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ContentRange {
    /// First and last byte (inclusive) sent; `None` for `*` (in a 416).
    range: Option<(u64, u64)>,
    /// Length of the whole file; `None` for `*`.
    complete: Option<u64>,
}

impl fmt::Display for ContentRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Content-Range: bytes ")?;
        match self.range {
            Some((first, last)) => write!(f, "{first}-{last}/")?,
            None => f.write_str("*/")?,
        }
        match self.complete {
            Some(length) => write!(f, "{length}"),
            None => f.write_str("*"),
        }
    }
}

/// The parts of a response head this client acts on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Head {
    status: u16,
    reason: String,
    content_length: Option<u64>,
    chunked: bool,
    content_range: Option<ContentRange>,
    location: Option<String>,
}

/// Where the scan for the end of the head stands, as offsets into the buffered bytes.
#[derive(Default)]
struct HeadScan {
    /// Bytes scanned so far.
    scanned: usize,
    /// Start of the line being scanned.
    line_start: usize,
}

impl HeadScan {
    /// Scans the bytes added since the last call; returns the length of the head up to and
    /// including its blank line once it is all there. Every line is checked against
    /// [`MAX_LINE_LEN`] as it arrives, so each byte is looked at once.
    fn scan(&mut self, bytes: &[u8]) -> Result<Option<usize>, ProtocolError> {
        for (i, &b) in bytes.iter().enumerate().skip(self.scanned) {
            if b != b'\n' {
                continue;
            }
            let line = bytes.get(self.line_start..i).unwrap_or(&[]);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.len() > MAX_LINE_LEN {
                return Err(ProtocolError::LineTooLong);
            }
            if line.is_empty() {
                return Ok(Some(i + 1));
            }
            self.line_start = i + 1;
        }
        self.scanned = bytes.len();
        // The line being received may still end in "\r\n".
        if self.scanned.saturating_sub(self.line_start) > MAX_LINE_LEN + 1 {
            return Err(ProtocolError::LineTooLong);
        }
        Ok(None)
    }
}

/// Reads the final response head, skipping interim (1xx) ones.
fn read_head<R: Read>(stream: &mut Buffered<R>) -> Result<Head, WireError> {
    for interim in 0..=MAX_INTERIM_RESPONSES {
        let mut scan = HeadScan::default();
        let len = loop {
            if let Some(end) = scan.scan(stream.buffered())? {
                break end;
            }
            if stream.buffered().len() >= MAX_HEAD_LEN {
                return Err(ProtocolError::HeadTooLarge.into());
            }
            if stream.fill_more()? == 0 {
                return Err(if interim == 0 && stream.buffered().is_empty() {
                    ProtocolError::EmptyResponse.into()
                } else {
                    ProtocolError::TruncatedHead.into()
                });
            }
        };
        let head = parse_head(stream.buffered().get(..len).unwrap_or(&[]))?;
        stream.consume(len);
        match head.status {
            101 => return Err(ProtocolError::UnexpectedSwitch.into()),
            100..=199 => {}
            _ => return Ok(head),
        }
    }
    Err(ProtocolError::TooManyInterimResponses.into())
}

/// Parses a response head (status line, header lines, blank line); lines end in CRLF or LF.
fn parse_head(bytes: &[u8]) -> Result<Head, ProtocolError> {
    let mut lines = bytes
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let status_line = lines.next().ok_or(ProtocolError::BadStatusLine)?;
    if status_line.len() > MAX_LINE_LEN {
        return Err(ProtocolError::LineTooLong);
    }
    let (status, reason) = parse_status_line(status_line)?;
    let mut head = Head {
        status,
        reason,
        ..Head::default()
    };
    let mut fields = 0;
    for line in lines {
        if line.is_empty() {
            break;
        }
        if line.len() > MAX_LINE_LEN {
            return Err(ProtocolError::LineTooLong);
        }
        fields += 1;
        if fields > MAX_HEADERS {
            return Err(ProtocolError::TooManyHeaders);
        }
        let (name, value) = parse_field(line)?;
        if name.eq_ignore_ascii_case(b"content-length") {
            let length = parse_content_length(value)?;
            if head.content_length.is_some_and(|known| known != length) {
                return Err(ProtocolError::ConflictingContentLength);
            }
            head.content_length = Some(length);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            for coding in value.split(|&b| b == b',') {
                let coding = trim(coding);
                if coding.is_empty() {
                    continue;
                }
                if !coding.eq_ignore_ascii_case(b"chunked") || head.chunked {
                    return Err(ProtocolError::UnsupportedTransferEncoding);
                }
                head.chunked = true;
            }
        } else if name.eq_ignore_ascii_case(b"content-range") {
            if head.content_range.is_some() {
                return Err(ProtocolError::DuplicateHeader);
            }
            head.content_range =
                Some(parse_content_range(value).ok_or(ProtocolError::BadContentRange)?);
        } else if name.eq_ignore_ascii_case(b"location") {
            if head.location.is_some() {
                return Err(ProtocolError::DuplicateHeader);
            }
            head.location = Some(String::from_utf8_lossy(value).into_owned());
        }
    }
    Ok(head)
}

/// `HTTP/1.x NNN reason` → status and reason.
fn parse_status_line(line: &[u8]) -> Result<(u16, String), ProtocolError> {
    let rest = line
        .strip_prefix(b"HTTP/")
        .ok_or(ProtocolError::BadStatusLine)?;
    let space = rest
        .iter()
        .position(|&b| b == b' ')
        .ok_or(ProtocolError::BadStatusLine)?;
    let (version, rest) = rest.split_at_checked(space).unwrap_or((rest, &[]));
    if version != b"1.1" && version != b"1.0" {
        return Err(if version.first().is_some_and(u8::is_ascii_digit) {
            ProtocolError::UnsupportedVersion
        } else {
            ProtocolError::BadStatusLine
        });
    }
    let rest = rest.get(1..).unwrap_or(&[]);
    let code = rest.get(..3).ok_or(ProtocolError::BadStatusLine)?;
    if !code.iter().all(u8::is_ascii_digit) {
        return Err(ProtocolError::BadStatusLine);
    }
    let status = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    if !(100..=599).contains(&status) {
        return Err(ProtocolError::BadStatusLine);
    }
    let reason = match rest.get(3..).unwrap_or(&[]) {
        [] => &[][..],
        [b' ', reason @ ..] => reason,
        _ => return Err(ProtocolError::BadStatusLine),
    };
    if reason.iter().any(|&b| is_control(b)) {
        return Err(ProtocolError::BadStatusLine);
    }
    Ok((status, String::from_utf8_lossy(reason).into_owned()))
}

/// A control character other than tab (not allowed in field values and reason phrases).
fn is_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// `name: value` → name and trimmed value.
fn parse_field(line: &[u8]) -> Result<(&[u8], &[u8]), ProtocolError> {
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or(ProtocolError::BadHeaderLine)?;
    let (name, value) = line.split_at_checked(colon).unwrap_or((line, &[]));
    let value = trim(value.get(1..).unwrap_or(&[]));
    let is_token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.iter().all(|&b| is_token(b)) || value.iter().any(|&b| is_control(b))
    {
        return Err(ProtocolError::BadHeaderLine);
    }
    Ok((name, value))
}

/// Without leading and trailing spaces and tabs.
fn trim(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// Decimal digits only, fitting in a u64.
fn parse_u64(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 20 {
        return None;
    }
    bytes.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// `Content-Length`: a number, or a list of the same number repeated.
fn parse_content_length(value: &[u8]) -> Result<u64, ProtocolError> {
    let mut length = None;
    for part in value.split(|&b| b == b',') {
        let n = parse_u64(trim(part)).ok_or(ProtocolError::BadContentLength)?;
        if length.is_some_and(|known| known != n) {
            return Err(ProtocolError::ConflictingContentLength);
        }
        length = Some(n);
    }
    length.ok_or(ProtocolError::BadContentLength)
}

/// `bytes FIRST-LAST/LENGTH`, `bytes FIRST-LAST/*` or `bytes */LENGTH`, checked for sense.
fn parse_content_range(value: &[u8]) -> Option<ContentRange> {
    let value = std::str::from_utf8(value).ok()?;
    let (unit, rest) = value.split_once(' ')?;
    if !unit.eq_ignore_ascii_case("bytes") {
        return None;
    }
    let (range, complete) = rest.trim_start().split_once('/')?;
    let complete = match complete {
        "*" => None,
        length => Some(parse_u64(length.as_bytes())?),
    };
    let range = match range {
        "*" => None,
        range => {
            let (first, last) = range.split_once('-')?;
            let (first, last) = (parse_u64(first.as_bytes())?, parse_u64(last.as_bytes())?);
            if first > last || complete.is_some_and(|length| last >= length) {
                return None;
            }
            Some((first, last))
        }
    };
    if range.is_none() && complete.is_none() {
        return None;
    }
    Some(ContentRange { range, complete })
}

/// The size of a chunk from its chunk-size line (hex digits, then optional `;extensions`).
fn parse_chunk_size(line: &[u8]) -> Result<u64, ProtocolError> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let digits = line.split(|&b| b == b';').next().unwrap_or(&[]);
    let digits = trim(digits);
    if digits.is_empty() || digits.len() > 16 {
        return Err(ProtocolError::BadChunk);
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let digit = char::from(b).to_digit(16).ok_or(ProtocolError::BadChunk)?;
        Ok((n << 4) | u64::from(digit))
    })
}

/// How the end of the body is found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    /// Exactly this many bytes are left (Content-Length).
    Length(u64),
    /// The body ends when the connection does.
    UntilClose,
    /// Chunked transfer coding, in this state.
    Chunked(Chunk),
}

/// Where a chunked body's reader stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    /// Before a chunk-size line.
    Size,
    /// Inside a chunk's data, this many bytes left.
    Data(u64),
    /// Before the CRLF after a chunk's data.
    DataEnd,
    /// In the trailer, after this many fields.
    Trailer(usize),
    /// After the last chunk and the trailer.
    Done,
}

/// A response body on its connection.
struct Body<R> {
    stream: Buffered<R>,
    framing: Framing,
    /// Body bytes returned so far.
    got: u64,
    /// Body length when known (Content-Length, or the range's length).
    expected: Option<u64>,
    url: String,
    timeout: Duration,
}

impl<R: Read> Body<R> {
    /// The body after `head`, checked against the range asked for.
    fn new(
        stream: Buffered<R>,
        head: &Head,
        range: Option<(u64, u64)>,
        url: String,
        timeout: Duration,
    ) -> Result<Self, HttpError> {
        let protocol = |error| HttpError::Protocol {
            url: url.clone(),
            error,
        };
        let range_len = match range {
            Some((start, end)) => {
                let asked = Some((start, end.saturating_sub(1)));
                let matches =
                    head.status == 206 && head.content_range.is_some_and(|c| c.range == asked);
                if !matches || start >= end {
                    return Err(HttpError::RangeIgnored {
                        url,
                        start,
                        end,
                        status: head.status,
                        content_range: head.content_range.map(|c| c.to_string()),
                    });
                }
                Some(end - start)
            }
            None if head.status == 206 => {
                return Err(protocol(ProtocolError::UnaskedPartialContent))
            }
            None => None,
        };
        let (framing, expected) = if head.status == 204 {
            (Framing::Length(0), Some(0))
        } else if head.chunked {
            (Framing::Chunked(Chunk::Size), range_len)
        } else if let Some(length) = head.content_length {
            if range_len.is_some_and(|range_len| range_len != length) {
                return Err(protocol(ProtocolError::LengthMismatch));
            }
            (Framing::Length(length), Some(length))
        } else {
            (Framing::UntilClose, range_len)
        };
        Ok(Body {
            stream,
            framing,
            got: 0,
            expected,
            url,
            timeout,
        })
    }

    /// Counts `n` bytes returned, refusing more than announced.
    fn count(&mut self, n: usize) -> Result<usize, WireError> {
        self.got = self
            .got
            .saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
        if self.expected.is_some_and(|expected| self.got > expected) {
            return Err(ProtocolError::BodyTooLong.into());
        }
        Ok(n)
    }

    /// Reads at most `left` bytes into `out`; the end of the stream is `Eof`.
    fn read_exact_part(&mut self, out: &mut [u8], left: u64) -> Result<usize, WireError> {
        let max = usize::try_from(left).unwrap_or(usize::MAX).min(out.len());
        let n = self.stream.read(out.get_mut(..max).unwrap_or(&mut []))?;
        if n == 0 {
            return Err(WireError::Eof);
        }
        Ok(n)
    }

    fn read_body(&mut self, out: &mut [u8]) -> Result<usize, WireError> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            match self.framing {
                Framing::Length(0) => return Ok(0),
                Framing::Length(left) => {
                    let n = self.read_exact_part(out, left)?;
                    self.framing = Framing::Length(left.saturating_sub(n as u64));
                    return self.count(n);
                }
                Framing::UntilClose => {
                    let n = self.stream.read(out)?;
                    if n == 0 {
                        if self.expected.is_some_and(|expected| self.got < expected) {
                            return Err(WireError::Eof);
                        }
                        return Ok(0);
                    }
                    return self.count(n);
                }
                Framing::Chunked(Chunk::Size) => {
                    let len = self
                        .stream
                        .fill_line(MAX_CHUNK_LINE_LEN, ProtocolError::ChunkLineTooLong)?;
                    let size = parse_chunk_size(self.stream.buffered().get(..len).unwrap_or(&[]))?;
                    self.stream.consume(len);
                    if self
                        .expected
                        .is_some_and(|expected| self.got.saturating_add(size) > expected)
                    {
                        return Err(ProtocolError::BodyTooLong.into());
                    }
                    self.framing = Framing::Chunked(if size == 0 {
                        Chunk::Trailer(0)
                    } else {
                        Chunk::Data(size)
                    });
                }
                Framing::Chunked(Chunk::Data(left)) => {
                    let n = self.read_exact_part(out, left)?;
                    let left = left.saturating_sub(n as u64);
                    self.framing = Framing::Chunked(if left == 0 {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left)
                    });
                    return self.count(n);
                }
                Framing::Chunked(Chunk::DataEnd) => {
                    let len = self.stream.fill_line(2, ProtocolError::BadChunk)?;
                    if !matches!(self.stream.buffered().get(..len), Some(b"\r\n" | b"\n")) {
                        return Err(ProtocolError::BadChunk.into());
                    }
                    self.stream.consume(len);
                    self.framing = Framing::Chunked(Chunk::Size);
                }
                Framing::Chunked(Chunk::Trailer(fields)) => {
                    let len = self
                        .stream
                        .fill_line(MAX_LINE_LEN, ProtocolError::LineTooLong)?;
                    let line = self.stream.buffered().get(..len).unwrap_or(&[]);
                    let done = matches!(line, b"\r\n" | b"\n");
                    self.stream.consume(len);
                    self.framing = Framing::Chunked(if done {
                        Chunk::Done
                    } else if fields >= MAX_HEADERS {
                        return Err(ProtocolError::TooManyHeaders.into());
                    } else {
                        Chunk::Trailer(fields + 1)
                    });
                }
                Framing::Chunked(Chunk::Done) => {
                    if self.expected.is_some_and(|expected| self.got < expected) {
                        return Err(WireError::Eof);
                    }
                    return Ok(0);
                }
            }
        }
    }
}

impl<R: Read> Read for Body<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.read_body(out).map_err(|e| {
            e.into_http(&self.url, self.timeout, Some((self.got, self.expected)))
                .into_io()
        })
    }
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
