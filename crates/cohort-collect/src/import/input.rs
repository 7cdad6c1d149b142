//! Opening an import file: its checksum, transparent gzip, and progress by
//! bytes read from disk.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

use super::{ImportError, ImportProgress};

/// Rows between two progress reports.
const PROGRESS_EVERY_ROWS: u64 = 4096;

pub(crate) fn io_error(path: &Path) -> impl FnOnce(io::Error) -> ImportError + '_ {
    move |source| ImportError::Io { path: path.display().to_string(), source }
}

/// SHA-256 (lowercase hex) of the file's bytes as stored.
pub(crate) fn checksum(path: &Path) -> Result<String, ImportError> {
    let mut file = File::open(path).map_err(io_error(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io_error(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Counts the bytes that pass through it into a shared counter.
struct CountingReader<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Opens `path` for streaming, decompressing gzip when `gzip` is set. The
/// returned [`Progress`] reports the bytes read from disk (compressed).
pub(crate) fn open<'p>(
    path: &Path,
    gzip: bool,
    progress: &'p dyn ImportProgress,
) -> Result<(Box<dyn Read>, Progress<'p>), ImportError> {
    let file = File::open(path).map_err(io_error(path))?;
    let count = Rc::new(Cell::new(0));
    let counted = CountingReader { inner: BufReader::with_capacity(1 << 16, file), count: Rc::clone(&count) };
    let reader: Box<dyn Read> = if gzip { Box::new(MultiGzDecoder::new(counted)) } else { Box::new(counted) };
    Ok((reader, Progress { sink: progress, bytes: count, rows: 0, next_report: PROGRESS_EVERY_ROWS, total: None }))
}

/// Throttled progress reporting for one file.
pub(crate) struct Progress<'p> {
    sink: &'p dyn ImportProgress,
    bytes: Rc<Cell<u64>>,
    rows: u64,
    next_report: u64,
    /// For formats read by row count instead of bytes: (file bytes, rows).
    total: Option<(u64, u64)>,
}

impl<'p> Progress<'p> {
    /// Progress by rows out of `total_rows`, scaled to `total_bytes`.
    pub(crate) fn by_rows(sink: &'p dyn ImportProgress, total_bytes: u64, total_rows: u64) -> Self {
        Progress {
            sink,
            bytes: Rc::new(Cell::new(0)),
            rows: 0,
            next_report: PROGRESS_EVERY_ROWS,
            total: Some((total_bytes, total_rows.max(1))),
        }
    }

    /// Counts one row read, reporting every few thousand rows.
    pub(crate) fn row(&mut self) {
        self.rows += 1;
        if self.rows >= self.next_report {
            self.next_report += PROGRESS_EVERY_ROWS;
            self.report();
        }
    }

    /// Rows counted so far.
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// Reports the current position.
    pub(crate) fn report(&self) {
        let bytes = match self.total {
            Some((bytes, rows)) => (u128::from(bytes) * u128::from(self.rows.min(rows)) / u128::from(rows)) as u64,
            None => self.bytes.get(),
        };
        self.sink.advance(bytes, self.rows);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn checksum_is_sha256_hex_of_stored_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc.csv");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(checksum(&path).unwrap(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(checksum(&dir.path().join("missing.csv")).unwrap_err().to_string().contains("missing.csv"));
    }

    #[test]
    fn gzip_is_read_transparently_and_progress_counts_compressed_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all("x\n".repeat(1000).as_bytes()).unwrap();
        let bytes = gz.finish().unwrap();
        std::fs::write(&path, &bytes).unwrap();
        let (mut reader, progress) = open(&path, true, &super::super::NoProgress).unwrap();
        let mut text = String::new();
        reader.read_to_string(&mut text).unwrap();
        assert_eq!(text.len(), 2000);
        assert_eq!(progress.bytes.get(), bytes.len() as u64);
    }
}
