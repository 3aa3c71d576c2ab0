//! Where a bundle's bytes come from: a local file, or an update server over HTTP(S).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use crate::error::AgentError;

/// A bundle read at offsets. Reads in increasing order within a planned range are streamed.
pub trait Source {
    /// A name for messages.
    fn describe(&self) -> String;
    /// Bytes of the whole bundle.
    fn size(&mut self) -> Result<u64, AgentError>;
    /// Announces that the bytes `start..end` are read next, in order.
    fn plan(&mut self, _start: u64, _end: u64) {}
    /// Fills `buf` from `offset`.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), AgentError>;
    /// Bytes fetched so far.
    fn fetched(&self) -> u64;
    /// True when reading costs a download (delta pays off).
    fn is_remote(&self) -> bool;
    /// The bundle's file, when it is local: then it is checked whole before a byte is
    /// written.
    fn local_file(&self) -> Option<&File> {
        None
    }
}

/// A bundle in a local file.
pub struct FileSource {
    path: PathBuf,
    file: File,
    fetched: u64,
}

impl FileSource {
    /// Opens `path`.
    pub fn open(path: PathBuf) -> Result<Self, AgentError> {
        let file = File::open(&path).map_err(|e| AgentError::io("open", &path, e))?;
        Ok(FileSource {
            path,
            file,
            fetched: 0,
        })
    }
}

impl Source for FileSource {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn size(&mut self) -> Result<u64, AgentError> {
        self.file
            .metadata()
            .map(|m| m.len())
            .map_err(|e| AgentError::io("read", &self.path, e))
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), AgentError> {
        self.file.read_exact_at(buf, offset).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                AgentError::Refused(crate::error::Refusal::Length {
                    expected: offset + buf.len() as u64,
                    got: self.file.metadata().map(|m| m.len()).unwrap_or(0),
                })
            } else {
                AgentError::io("read", &self.path, e)
            }
        })?;
        self.fetched += buf.len() as u64;
        Ok(())
    }

    fn fetched(&self) -> u64 {
        self.fetched
    }

    fn is_remote(&self) -> bool {
        false
    }

    fn local_file(&self) -> Option<&File> {
        Some(&self.file)
    }
}

/// Attempts at a byte range before the download is given up (a dropped connection resumes at
/// the first byte not yet received).
pub const HTTP_ATTEMPTS: u32 = 5;

/// A bundle on an update server, read with `Range` requests.
pub struct HttpSource {
    url: crate::http::Url,
    options: crate::http::HttpOptions,
    len: Option<u64>,
    stream: Option<(crate::http::Response, u64, u64)>,
    planned_end: u64,
    fetched: u64,
}

impl HttpSource {
    /// A source for `url`.
    pub fn new(url: &str, options: crate::http::HttpOptions) -> Result<Self, AgentError> {
        let url =
            crate::http::Url::parse(url).map_err(|e| AgentError::Usage(format!("{url}: {e}")))?;
        Ok(HttpSource {
            url,
            options,
            len: None,
            stream: None,
            planned_end: 0,
            fetched: 0,
        })
    }

    fn open(&mut self, start: u64, end: u64) -> Result<(), AgentError> {
        let response = crate::http::get(&self.url, Some((start, end)), &self.options)
            .map_err(|e| AgentError::Download(e.to_string()))?;
        if let Some(total) = response.total_length() {
            self.len.get_or_insert(total);
        }
        self.stream = Some((response, start, end));
        Ok(())
    }
}

impl Source for HttpSource {
    fn describe(&self) -> String {
        self.url.to_string()
    }

    fn size(&mut self) -> Result<u64, AgentError> {
        if let Some(len) = self.len {
            return Ok(len);
        }
        // The header's range tells the length (Content-Range's total), and the header is what
        // is read next: the stream is kept for it.
        self.open(0, nanolin_core::limits::BUNDLE_HEADER_LEN as u64)?;
        self.len.ok_or_else(|| {
            AgentError::Download(format!(
                "{}: the server did not say the file's length (Content-Range)",
                self.url
            ))
        })
    }

    fn plan(&mut self, start: u64, end: u64) {
        if self
            .stream
            .as_ref()
            .is_some_and(|(_, at, to)| *at == start && *to >= end)
        {
            return;
        }
        self.stream = None;
        self.planned_end = end;
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), AgentError> {
        use std::io::Read;
        let end = offset + buf.len() as u64;
        let mut filled = 0usize;
        let mut attempts = 0;
        while filled < buf.len() {
            let at = offset + filled as u64;
            let usable = self
                .stream
                .as_ref()
                .is_some_and(|(_, pos, to)| *pos == at && *to >= end);
            if !usable {
                let to = self.planned_end.max(end);
                let to = self.len.map_or(to, |len| to.min(len).max(end));
                self.open(at, to)?;
            }
            let Some((response, pos, _)) = self.stream.as_mut() else {
                continue;
            };
            let rest = buf.get_mut(filled..).unwrap_or(&mut []);
            match response.read(rest) {
                Ok(0) => {
                    self.stream = None;
                    attempts += 1;
                }
                Ok(n) => {
                    filled += n;
                    *pos += n as u64;
                    self.fetched += n as u64;
                    attempts = 0;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.stream = None;
                    attempts += 1;
                    if attempts >= HTTP_ATTEMPTS {
                        return Err(AgentError::Download(format!(
                            "{}: {} (after {attempts} attempts)",
                            self.url,
                            crate::http::HttpError::from(e)
                        )));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(200 << attempts.min(4)));
                }
            }
            if attempts >= HTTP_ATTEMPTS {
                return Err(AgentError::Download(format!(
                    "{}: the server keeps ending the transfer early",
                    self.url
                )));
            }
        }
        Ok(())
    }

    fn fetched(&self) -> u64 {
        self.fetched
    }

    fn is_remote(&self) -> bool {
        true
    }
}
