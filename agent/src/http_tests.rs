//! Unit tests of `http`: URLs, and responses parsed from literal bytes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use super::*;

const URL: &str = "http://update.test/bundle.nlb";

/// A reader that hands out at most `step` bytes per read, so lines split across reads.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        let (now, rest) = self.data.split_at(n);
        buf[..n].copy_from_slice(now);
        self.data = rest;
        Ok(n)
    }
}

/// Reads one response from `bytes` as `get` does, `step` bytes per read.
fn fetch_stepped(
    bytes: &[u8],
    range: Option<(u64, u64)>,
    step: usize,
) -> Result<Vec<u8>, HttpError> {
    let timeout = Duration::from_secs(1);
    let mut stream = Buffered::new(Trickle { data: bytes, step });
    let head = read_head(&mut stream).map_err(|e| e.into_http(URL, timeout, None))?;
    if !(200..300).contains(&head.status) {
        return Err(HttpError::Status {
            url: URL.into(),
            status: head.status,
            reason: head.reason,
        });
    }
    let mut body = Body::new(stream, &head, range, URL.into(), timeout)?;
    let mut out = Vec::new();
    body.read_to_end(&mut out)?;
    Ok(out)
}

/// Reads one response from `bytes`, whole and one byte per read; both must agree.
fn fetch(bytes: &[u8], range: Option<(u64, u64)>) -> Result<Vec<u8>, HttpError> {
    let whole = fetch_stepped(bytes, range, usize::MAX);
    let trickled = fetch_stepped(bytes, range, 1);
    assert_eq!(format!("{whole:?}"), format!("{trickled:?}"));
    whole
}

fn protocol_error(result: Result<Vec<u8>, HttpError>) -> ProtocolError {
    match result {
        Err(HttpError::Protocol { error, .. }) => error,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

fn head(text: &str) -> Result<Head, ProtocolError> {
    parse_head(text.as_bytes())
}

// URLs

#[test]
fn url_parses_hosts_ports_and_paths() {
    let url = Url::parse("http://example.com").unwrap();
    assert_eq!(
        (url.scheme(), url.host(), url.port(), url.target()),
        (Scheme::Http, "example.com", 80, "/")
    );
    assert_eq!(url.to_string(), "http://example.com/");

    let url = Url::parse("HTTPS://Update.Example.COM:8443/a/b.nlb?x=1#frag").unwrap();
    assert_eq!(
        (
            url.scheme(),
            url.host(),
            url.port(),
            url.target(),
            url.path()
        ),
        (
            Scheme::Https,
            "update.example.com",
            8443,
            "/a/b.nlb?x=1",
            "/a/b.nlb"
        )
    );
    assert_eq!(url.authority(), "update.example.com:8443");

    let url = Url::parse("http://127.0.0.1:8080/channels/qemu/stable").unwrap();
    assert_eq!((url.host(), url.port()), ("127.0.0.1", 8080));

    let url = Url::parse("http://[::1]:8080/x").unwrap();
    assert_eq!((url.host(), url.port()), ("::1", 8080));
    assert_eq!(url.authority(), "[::1]:8080");
    assert_eq!(url.to_string(), "http://[::1]:8080/x");

    let url = Url::parse("https://[FE80:0:0::1]?q").unwrap();
    assert_eq!(
        (url.host(), url.port(), url.target()),
        ("fe80::1", 443, "/?q")
    );
    assert_eq!(url.authority(), "[fe80::1]");

    let url = Url::parse("http://host.example:80/").unwrap();
    assert_eq!(url.authority(), "host.example");
}

#[test]
fn url_refusals_name_the_problem() {
    let long = format!("http://h/{}", "a".repeat(MAX_URL_LEN));
    let cases: &[(&str, UrlProblem)] = &[
        (&long, UrlProblem::TooLong),
        ("http://h/a b", UrlProblem::InvalidCharacter { at: 10 }),
        ("http://h/\r\nX: y", UrlProblem::InvalidCharacter { at: 9 }),
        ("http://h/é", UrlProblem::InvalidCharacter { at: 9 }),
        ("update.example/x", UrlProblem::MissingScheme),
        ("ftp://h/x", UrlProblem::UnsupportedScheme),
        ("file:///etc/passwd", UrlProblem::UnsupportedScheme),
        ("http://user:pw@h/x", UrlProblem::Credentials),
        ("http:///x", UrlProblem::MissingHost),
        ("http://:80/x", UrlProblem::MissingHost),
        ("http://h_!/x", UrlProblem::BadHost),
        ("http://a..b/x", UrlProblem::BadHost),
        ("http://[::1/x", UrlProblem::BadIpv6),
        ("http://[1.2.3.4]/x", UrlProblem::BadIpv6),
        ("http://[::1]x/", UrlProblem::BadPort),
        ("http://::1/x", UrlProblem::Ipv6WithoutBrackets),
        ("http://h:/x", UrlProblem::BadPort),
        ("http://h:0/x", UrlProblem::BadPort),
        ("http://h:65536/x", UrlProblem::BadPort),
        ("http://h:+80/x", UrlProblem::BadPort),
        ("http://h:8o/x", UrlProblem::BadPort),
    ];
    for (text, problem) in cases {
        let error = Url::parse(text).unwrap_err();
        assert_eq!(error.problem, *problem, "{text}");
    }
    let message = Url::parse("ftp://h/x").unwrap_err().to_string();
    assert_eq!(
        message,
        "bad URL \"ftp://h/x\": only http:// and https:// are supported"
    );
}

#[test]
fn url_join_resolves_redirect_locations() {
    let base = Url::parse("http://h:8080/dir/file.nlb?x").unwrap();
    let join = |r: &str| base.join(r).unwrap().to_string();
    assert_eq!(join("https://other/y"), "https://other/y");
    assert_eq!(join("//mirror:81/z"), "http://mirror:81/z");
    assert_eq!(join("/abs"), "http://h:8080/abs");
    assert_eq!(join("rel.nlb"), "http://h:8080/dir/rel.nlb");
    assert_eq!(join("?y"), "http://h:8080/dir/file.nlb?y");
    assert_eq!(join(""), "http://h:8080/dir/file.nlb?x");
    assert_eq!(
        base.join("ftp://h/x").unwrap_err().problem,
        UrlProblem::UnsupportedScheme
    );
    assert!(matches!(
        base.join("/a b").unwrap_err().problem,
        UrlProblem::InvalidCharacter { .. }
    ));
}

#[test]
fn request_head_is_exact() {
    let url = Url::parse("http://[::1]:8080/b.nlb?v=2").unwrap();
    assert_eq!(
        request(&url, Some((10, 20))),
        format!(
            "GET /b.nlb?v=2 HTTP/1.1\r\nHost: [::1]:8080\r\nUser-Agent: nanolin-agent/{}\r\n\
             Accept: */*\r\nAccept-Encoding: identity\r\nRange: bytes=10-19\r\nConnection: close\r\n\r\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    let url = Url::parse("https://h/").unwrap();
    assert!(request(&url, None).starts_with("GET / HTTP/1.1\r\nHost: h\r\n"));
    assert!(!request(&url, None).contains("Range"));
}

// Status line and header fields

#[test]
fn status_lines() {
    let ok = |line: &str| parse_status_line(line.as_bytes());
    assert_eq!(ok("HTTP/1.1 200 OK"), Ok((200, "OK".into())));
    assert_eq!(ok("HTTP/1.0 404 Not Found"), Ok((404, "Not Found".into())));
    assert_eq!(ok("HTTP/1.1 204"), Ok((204, String::new())));
    assert_eq!(ok("HTTP/1.1 200 "), Ok((200, String::new())));
    assert_eq!(
        ok("HTTP/1.1 200 caf\u{e9}\tok"),
        Ok((200, "caf\u{e9}\tok".into()))
    );
    assert_eq!(
        parse_status_line(b"HTTP/1.1 500 \xff\xfe"),
        Ok((500, "\u{fffd}\u{fffd}".into()))
    );
    for bad in [
        "",
        "ICY 200 OK",
        "HTTP/1.1",
        "HTTP/1.1 20 OK",
        "HTTP/1.1 2000 OK",
        "HTTP/1.1 099 Low",
        "HTTP/1.1 600 High",
        "HTTP/1.1 abc",
        "HTTP/1.1  200 OK",
        "HTTP/1.1 200\x01",
        "HTTP/1.1 200 O\x00K",
        "HTTP/x 200 OK",
    ] {
        assert_eq!(ok(bad), Err(ProtocolError::BadStatusLine), "{bad:?}");
    }
    assert_eq!(ok("HTTP/2 200"), Err(ProtocolError::UnsupportedVersion));
    assert_eq!(
        ok("HTTP/0.9 200 OK"),
        Err(ProtocolError::UnsupportedVersion)
    );
}

#[test]
fn header_fields() {
    let h = head("HTTP/1.1 200 OK\r\nContent-Length: 42\r\nServer: x\r\n\r\n").unwrap();
    assert_eq!(
        (h.status, h.content_length, h.chunked),
        (200, Some(42), false)
    );
    // Field names are case-insensitive, values trimmed, bare LF accepted.
    let h = head("HTTP/1.1 200 OK\ncontent-LENGTH:\t 7 \nTRANSFER-encoding: Chunked\n\n").unwrap();
    assert_eq!((h.content_length, h.chunked), (Some(7), true));
    let h = head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5, 5\r\n\r\n").unwrap();
    assert_eq!(h.content_length, Some(5));
    let h = head("HTTP/1.1 302 Found\r\nLocation: /next?a=1\r\n\r\n").unwrap();
    assert_eq!(h.location.as_deref(), Some("/next?a=1"));
    let h = head("HTTP/1.1 200 OK\r\nX-Empty:\r\n\r\n").unwrap();
    assert_eq!(h.status, 200);

    let cases: &[(&str, ProtocolError)] = &[
        (
            "Content-Length: 5\r\nContent-Length: 6",
            ProtocolError::ConflictingContentLength,
        ),
        (
            "Content-Length: 5, 6",
            ProtocolError::ConflictingContentLength,
        ),
        ("Content-Length: -1", ProtocolError::BadContentLength),
        ("Content-Length: +1", ProtocolError::BadContentLength),
        ("Content-Length: 4 2", ProtocolError::BadContentLength),
        ("Content-Length: 0x10", ProtocolError::BadContentLength),
        ("Content-Length:", ProtocolError::BadContentLength),
        (
            "Content-Length: 18446744073709551616",
            ProtocolError::BadContentLength,
        ),
        (
            "Transfer-Encoding: gzip, chunked",
            ProtocolError::UnsupportedTransferEncoding,
        ),
        (
            "Transfer-Encoding: chunked, chunked",
            ProtocolError::UnsupportedTransferEncoding,
        ),
        (
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
            ProtocolError::UnsupportedTransferEncoding,
        ),
        (
            "Transfer-Encoding: identity",
            ProtocolError::UnsupportedTransferEncoding,
        ),
        ("No colon here", ProtocolError::BadHeaderLine),
        (": no name", ProtocolError::BadHeaderLine),
        ("Bad Name: x", ProtocolError::BadHeaderLine),
        ("Name : x", ProtocolError::BadHeaderLine),
        ("Folded: a\r\n  b", ProtocolError::BadHeaderLine),
        ("Nul: a\0b", ProtocolError::BadHeaderLine),
        ("Bare: a\rb", ProtocolError::BadHeaderLine),
        (
            "Content-Range: bytes 0-1/2\r\nContent-Range: bytes 0-1/2",
            ProtocolError::DuplicateHeader,
        ),
        (
            "Location: /a\r\nLocation: /b",
            ProtocolError::DuplicateHeader,
        ),
        ("Content-Range: bytes 2-1/5", ProtocolError::BadContentRange),
    ];
    for (fields, error) in cases {
        let text = format!("HTTP/1.1 200 OK\r\n{fields}\r\n\r\n");
        assert_eq!(head(&text), Err(*error), "{fields:?}");
    }
}

#[test]
fn content_ranges() {
    let parse = |v: &str| parse_content_range(v.as_bytes());
    let range = |first, last, complete| ContentRange {
        range: Some((first, last)),
        complete,
    };
    assert_eq!(parse("bytes 0-99/1000"), Some(range(0, 99, Some(1000))));
    assert_eq!(parse("BYTES 5-5/*"), Some(range(5, 5, None)));
    assert_eq!(
        parse("bytes */1000"),
        Some(ContentRange {
            range: None,
            complete: Some(1000)
        })
    );
    for bad in [
        "",
        "bytes",
        "bytes */*",
        "items 0-1/2",
        "bytes 0-1",
        "bytes 1-0/5",
        "bytes 0-5/5",
        "bytes -1-2/5",
        "bytes 0--2/5",
        "bytes 0-2/-5",
        "bytes a-b/c",
        "bytes 0-1/2/3",
        "bytes 99999999999999999999-1/2",
    ] {
        assert_eq!(parse(bad), None, "{bad:?}");
    }
    assert_eq!(
        range(0, 99, Some(1000)).to_string(),
        "Content-Range: bytes 0-99/1000"
    );
}

#[test]
fn chunk_sizes() {
    assert_eq!(parse_chunk_size(b"0\r\n"), Ok(0));
    assert_eq!(parse_chunk_size(b"1aF\r\n"), Ok(0x1af));
    assert_eq!(parse_chunk_size(b"10;name=value\r\n"), Ok(16));
    assert_eq!(parse_chunk_size(b"10 ;name\n"), Ok(16));
    assert_eq!(parse_chunk_size(b"ffffffffffffffff\r\n"), Ok(u64::MAX));
    for bad in [
        &b"\r\n"[..],
        b"x\r\n",
        b"-1\r\n",
        b"1 2\r\n",
        b"10000000000000000\r\n",
    ] {
        assert_eq!(
            parse_chunk_size(bad),
            Err(ProtocolError::BadChunk),
            "{bad:?}"
        );
    }
}

// Whole responses

#[test]
fn content_length_body() {
    let body = fetch(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", None).unwrap();
    assert_eq!(body, b"hello");
    // Bytes after the announced length are not body.
    let body = fetch(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhello", None).unwrap();
    assert_eq!(body, b"he");
    let body = fetch(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", None).unwrap();
    assert_eq!(body, b"");
    let body = fetch(b"HTTP/1.1 204 No Content\r\n\r\n", None).unwrap();
    assert_eq!(body, b"");
}

#[test]
fn truncated_body_is_an_error_not_short_data() {
    match fetch(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", None) {
        Err(HttpError::Truncated { got, expected, .. }) => {
            assert_eq!((got, expected), (5, Some(10)));
        }
        other => panic!("{other:?}"),
    }
    // The io::Error that Read returns says UnexpectedEof and carries the HttpError.
    let data = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello";
    let mut stream = Buffered::new(&data[..]);
    let head = read_head(&mut stream).unwrap();
    let mut body = Body::new(stream, &head, None, URL.into(), Duration::from_secs(1)).unwrap();
    let mut out = Vec::new();
    let error = body.read_to_end(&mut out).unwrap_err();
    assert_eq!(out, b"hello");
    assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    assert_eq!(
        HttpError::from(error).to_string(),
        format!("{URL}: the connection ended after 5 of 10 bytes: resume from byte 5 with a Range request")
    );
}

#[test]
fn body_until_close() {
    let body = fetch(b"HTTP/1.0 200 OK\r\n\r\nall of it", None).unwrap();
    assert_eq!(body, b"all of it");
}

#[test]
fn chunked_bodies() {
    let wiki = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                 4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n";
    assert_eq!(fetch(wiki, None).unwrap(), b"Wikipedia in\r\n\r\nchunks.");
    // Extensions, a trailer, bare LF; chunked wins over Content-Length.
    let fancy = b"HTTP/1.1 200 OK\nContent-Length: 1\nTransfer-Encoding: chunked\n\n\
                  3;a=b\nabc\n0;last\nDigest: x\nOther: y\n\n";
    assert_eq!(fetch(fancy, None).unwrap(), b"abc");

    let cases: &[(&[u8], ProtocolError)] = &[
        (b"zz\r\n", ProtocolError::BadChunk),
        (b"10000000000000000\r\n", ProtocolError::BadChunk),
        (b"3\r\nabcd\r\n0\r\n\r\n", ProtocolError::BadChunk),
        (b"3\r\nabc0\r\n\r\n", ProtocolError::BadChunk),
    ];
    for (chunks, error) in cases {
        let mut bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        bytes.extend_from_slice(chunks);
        assert_eq!(protocol_error(fetch(&bytes, None)), *error, "{chunks:?}");
    }
    let mut long = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;".to_vec();
    long.resize(long.len() + MAX_CHUNK_LINE_LEN, b'x');
    assert_eq!(
        protocol_error(fetch(&long, None)),
        ProtocolError::ChunkLineTooLong
    );
    let mut trailers = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n".to_vec();
    for _ in 0..=MAX_HEADERS {
        trailers.extend_from_slice(b"T: x\r\n");
    }
    trailers.extend_from_slice(b"\r\n");
    assert_eq!(
        protocol_error(fetch(&trailers, None)),
        ProtocolError::TooManyHeaders
    );
}

#[test]
fn truncated_chunked_bodies() {
    for (cut, got) in [
        (&b"4\r\nWi"[..], 2),
        (b"4\r\nWiki\r\n", 4),
        (b"4\r\nWiki\r\n5", 4),
        (b"4\r\nWiki\r\n0\r\n", 4),
        (b"", 0),
    ] {
        let mut bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        bytes.extend_from_slice(cut);
        match fetch(&bytes, None) {
            Err(HttpError::Truncated {
                got: g,
                expected: None,
                ..
            }) => assert_eq!(g, got, "{cut:?}"),
            other => panic!("{cut:?}: {other:?}"),
        }
    }
}

#[test]
fn ranged_responses() {
    let ok = b"HTTP/1.1 206 Partial Content\r\nContent-Length: 3\r\n\
               Content-Range: bytes 10-12/100\r\n\r\nabc";
    assert_eq!(fetch(ok, Some((10, 13))).unwrap(), b"abc");
    let chunked = b"HTTP/1.1 206 Partial Content\r\nTransfer-Encoding: chunked\r\n\
                    Content-Range: bytes 10-12/*\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n";
    assert_eq!(fetch(chunked, Some((10, 13))).unwrap(), b"abc");

    // Answers that are not exactly the range asked for.
    let whole = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
    match fetch(whole, Some((10, 13))) {
        Err(
            e @ HttpError::RangeIgnored {
                status: 200,
                content_range: None,
                ..
            },
        ) => assert!(
            e.to_string()
                .contains("ignored the range request for bytes 10-12"),
            "{e}"
        ),
        other => panic!("{other:?}"),
    }
    let other_range = b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 10-11/12\r\n\r\nab";
    match fetch(other_range, Some((10, 13))) {
        Err(HttpError::RangeIgnored {
            status: 206,
            content_range: Some(got),
            ..
        }) => assert_eq!(got, "Content-Range: bytes 10-11/12"),
        other => panic!("{other:?}"),
    }
    let no_range = b"HTTP/1.1 206 Partial Content\r\nContent-Length: 3\r\n\r\nabc";
    assert!(matches!(
        fetch(no_range, Some((10, 13))),
        Err(HttpError::RangeIgnored {
            content_range: None,
            ..
        })
    ));
    assert_eq!(
        protocol_error(fetch(ok, None)),
        ProtocolError::UnaskedPartialContent
    );
    let mismatch = b"HTTP/1.1 206 Partial Content\r\nContent-Length: 4\r\n\
                     Content-Range: bytes 10-12/100\r\n\r\nabcd";
    assert_eq!(
        protocol_error(fetch(mismatch, Some((10, 13)))),
        ProtocolError::LengthMismatch
    );
    let too_long = b"HTTP/1.1 206 Partial Content\r\nTransfer-Encoding: chunked\r\n\
                     Content-Range: bytes 10-12/*\r\n\r\n4\r\nabcd\r\n0\r\n\r\n";
    assert_eq!(
        protocol_error(fetch(too_long, Some((10, 13)))),
        ProtocolError::BodyTooLong
    );
    let until_close_long =
        b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 10-12/*\r\n\r\nabcd";
    assert_eq!(
        protocol_error(fetch(until_close_long, Some((10, 13)))),
        ProtocolError::BodyTooLong
    );
    let until_close_short =
        b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 10-12/*\r\n\r\nab";
    assert!(matches!(
        fetch(until_close_short, Some((10, 13))),
        Err(HttpError::Truncated {
            got: 2,
            expected: Some(3),
            ..
        })
    ));
    let short_chunked = b"HTTP/1.1 206 Partial Content\r\nTransfer-Encoding: chunked\r\n\
                          Content-Range: bytes 10-12/*\r\n\r\n2\r\nab\r\n0\r\n\r\n";
    assert!(matches!(
        fetch(short_chunked, Some((10, 13))),
        Err(HttpError::Truncated {
            got: 2,
            expected: Some(3),
            ..
        })
    ));
}

#[test]
fn interim_responses_are_skipped() {
    let bytes = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n\
                  HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    assert_eq!(fetch(bytes, None).unwrap(), b"ok");
    let switch = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n";
    assert_eq!(
        protocol_error(fetch(switch, None)),
        ProtocolError::UnexpectedSwitch
    );
    let endless = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(MAX_INTERIM_RESPONSES + 2);
    assert_eq!(
        protocol_error(fetch(&endless, None)),
        ProtocolError::TooManyInterimResponses
    );
}

#[test]
fn cut_and_empty_heads() {
    assert_eq!(
        protocol_error(fetch(b"", None)),
        ProtocolError::EmptyResponse
    );
    assert_eq!(
        protocol_error(fetch(b"HTTP/1.1 200 OK\r\nContent-Len", None)),
        ProtocolError::TruncatedHead
    );
    assert_eq!(
        protocol_error(fetch(b"\r\n", None)),
        ProtocolError::BadStatusLine
    );
    assert_eq!(
        protocol_error(fetch(b"SSH-2.0-OpenSSH_9.2\r\n\r\n", None)),
        ProtocolError::BadStatusLine
    );
}

#[test]
fn oversize_heads_are_refused() {
    // One endless line: refused at the line limit, without waiting for its end.
    let mut long_line = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
    long_line.resize(MAX_LINE_LEN + 100, b'a');
    assert_eq!(
        protocol_error(fetch(&long_line, None)),
        ProtocolError::LineTooLong
    );
    let mut long_status = b"HTTP/1.1 200 ".to_vec();
    long_status.resize(MAX_LINE_LEN + 100, b'a');
    long_status.extend_from_slice(b"\r\n\r\n");
    assert_eq!(
        protocol_error(fetch(&long_status, None)),
        ProtocolError::LineTooLong
    );
    // Many short fields.
    let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..=MAX_HEADERS {
        many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert_eq!(
        protocol_error(fetch(&many, None)),
        ProtocolError::TooManyHeaders
    );
    // Fewer fields than the limit, but more bytes in all than the head may have.
    let mut large = b"HTTP/1.1 200 OK\r\n".to_vec();
    let value = "v".repeat(MAX_HEAD_LEN / (MAX_HEADERS - 1));
    for i in 0..MAX_HEADERS - 1 {
        large.extend_from_slice(format!("X-{i}: {value}\r\n").as_bytes());
    }
    large.extend_from_slice(b"\r\n");
    assert_eq!(
        protocol_error(fetch(&large, None)),
        ProtocolError::HeadTooLarge
    );
    // A head of exactly MAX_HEAD_LEN bytes, with lines of exactly MAX_LINE_LEN, is fine; one
    // byte more is not.
    let head_of = |len: usize| {
        let mut head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n".to_vec();
        let rest = len - head.len() - 2;
        for line in [rest / 2, rest - rest / 2] {
            head.extend_from_slice(b"X:");
            head.resize(head.len() + line - 4, b'a');
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        assert_eq!(head.len(), len);
        head.extend_from_slice(b"ok");
        head
    };
    let fits = head_of(MAX_HEAD_LEN);
    assert_eq!(
        fetch(&fits, None).map_err(|e| e.to_string()),
        Ok(b"ok".to_vec())
    );
    assert_eq!(
        protocol_error(fetch(&head_of(MAX_HEAD_LEN + 1), None)),
        ProtocolError::HeadTooLarge
    );
    let mut longest = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX:".to_vec();
    longest.resize(longest.len() + MAX_LINE_LEN - 2, b'a');
    longest.extend_from_slice(b"\r\n\r\nok");
    assert_eq!(
        fetch(&longest, None).map_err(|e| e.to_string()),
        Ok(b"ok".to_vec())
    );
    let mut too_long = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX:".to_vec();
    too_long.resize(too_long.len() + MAX_LINE_LEN - 1, b'a');
    too_long.extend_from_slice(b"\r\n\r\nok");
    assert_eq!(
        protocol_error(fetch(&too_long, None)),
        ProtocolError::LineTooLong
    );
}

/// Bytes from a small xorshift generator, so the run is the same every time.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn hostile_responses_never_panic() {
    const PIECES: &[&[u8]] = &[
        b"HTTP/1.1 ",
        b"HTTP/1.0 ",
        b"200 OK",
        b"206 ",
        b"302 ",
        b"100 ",
        b"\r\n",
        b"\n",
        b"\r",
        b":",
        b" ",
        b"\t",
        b"Content-Length: ",
        b"Transfer-Encoding: chunked",
        b"Content-Range: bytes ",
        b"Location: ",
        b"0",
        b"1",
        b"9",
        b"f",
        b"-",
        b"/",
        b"*",
        b";",
        b",",
        b"18446744073709551615",
        b"ffffffffffffffff",
        b"\0",
        b"\xff",
        b"abc",
    ];
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        let mut bytes = Vec::new();
        let pieces = noise.next() % 40;
        for _ in 0..pieces {
            bytes.extend_from_slice(PIECES[(noise.next() % PIECES.len() as u64) as usize]);
        }
        let range = match noise.next() % 3 {
            0 => None,
            1 => Some((0, 1 + noise.next() % 20)),
            _ => Some((noise.next() % 10, 10 + noise.next() % 10)),
        };
        let step = 1 + (noise.next() % 8) as usize;
        let _ = fetch_stepped(&bytes, range, step);
        let _ = parse_head(&bytes);
    }
}

// Errors

#[test]
fn error_messages_say_what_to_do() {
    let status = HttpError::Status {
        url: URL.into(),
        status: 404,
        reason: "Not Found".into(),
    };
    assert_eq!(
        status.to_string(),
        format!("GET {URL}: 404 Not Found: the file is not on the server; check the URL and that the release is published")
    );
    let timeout = HttpError::ConnectTimeout {
        address: "127.0.0.1:8080".into(),
        timeout: Duration::from_secs(10),
    };
    assert_eq!(
        timeout.to_string(),
        "connection to 127.0.0.1:8080 timed out after 10 s: is the update server up?"
    );
    let timeout = HttpError::Timeout {
        url: URL.into(),
        timeout: Duration::from_millis(300),
    };
    assert!(
        timeout.to_string().contains("did not answer for 0.3 s"),
        "{timeout}"
    );
    let protocol = HttpError::Protocol {
        url: URL.into(),
        error: ProtocolError::HeadTooLarge,
    };
    assert_eq!(
        protocol.to_string(),
        format!(
            "{URL}: invalid response from the server: the response head is longer than 16384 bytes"
        )
    );
    // An io::Error that carries no HttpError stays what it is.
    let plain = HttpError::from(io::Error::new(io::ErrorKind::BrokenPipe, "pipe"));
    assert!(matches!(plain, HttpError::Io { .. }));
    assert_eq!(plain.to_string(), "pipe");
}

#[test]
fn empty_and_backward_ranges_need_no_server() {
    // Port 1 on loopback: nothing listens there, and nothing is sent.
    let url = Url::parse("http://127.0.0.1:1/x").unwrap();
    let opts = HttpOptions::default();
    let mut response = get(&url, Some((7, 7)), &opts).unwrap();
    assert_eq!(
        (response.status(), response.content_length()),
        (206, Some(0))
    );
    let mut body = Vec::new();
    response.read_to_end(&mut body).unwrap();
    assert!(body.is_empty());
    assert!(matches!(
        get(&url, Some((8, 7)), &opts),
        Err(HttpError::BadRange { start: 8, end: 7 })
    ));
}

#[test]
fn default_options() {
    let opts = HttpOptions::default();
    assert_eq!(opts.connect_timeout, Duration::from_secs(10));
    assert_eq!(opts.io_timeout, Duration::from_secs(30));
    assert_eq!(opts.max_redirects, 5);
    assert_eq!(opts.ca_file(), Path::new(SYSTEM_CA_FILE));
}
