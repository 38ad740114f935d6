//! Checks a downloaded file against its manifest entry (lines, NDJSON
//! length, SHA-256), inflating it on the way when it is to be kept as NDJSON:
//! one pass over the bytes.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

use super::manifest::Expected;
use super::state::Encoding;

/// What a file turned out to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// Lines (resources).
    pub count: u64,
    /// Bytes of NDJSON.
    pub length: u64,
    /// SHA-256 of the NDJSON, lower-case hex.
    pub sha256: String,
}

/// Why a file was not accepted.
#[derive(Debug)]
pub enum Rejection {
    /// The bytes are not what the manifest says (or not gzip).
    Mismatch(String),
    /// Reading or writing failed.
    Io(io::Error),
}

/// Reads `part` (encoded as `encoding`), writes its NDJSON to `inflate_to`
/// when given, and checks what it held against `expected`.
pub fn check(
    part: &Path,
    encoding: Encoding,
    inflate_to: Option<&Path>,
    expected: &Expected,
) -> Result<Facts, Rejection> {
    let file = File::open(part).map_err(Rejection::Io)?;
    let raw = BufReader::with_capacity(1 << 18, file);
    let mut reader: Box<dyn Read> = match encoding {
        Encoding::Gzip => Box::new(MultiGzDecoder::new(raw)),
        Encoding::Identity => Box::new(raw),
    };
    let mut out = match inflate_to {
        Some(path) => Some(BufWriter::with_capacity(
            1 << 18,
            super::state::private_file(path).map_err(Rejection::Io)?,
        )),
        None => None,
    };
    let mut hasher = Sha256::new();
    let (mut length, mut lines, mut last) = (0u64, 0u64, b'\n');
    let mut buffer = vec![0u8; 1 << 17];
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // A decoder error is the bytes' fault, not the disk's.
            Err(e) if matches!(encoding, Encoding::Gzip) && e.kind() != io::ErrorKind::Other => {
                return Err(Rejection::Mismatch(format!("not valid gzip ({e})")));
            }
            Err(e) => return Err(Rejection::Io(e)),
        };
        let chunk = &buffer[..n];
        hasher.update(chunk);
        length += n as u64;
        lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        last = chunk[n - 1];
        if let Some(out) = out.as_mut() {
            out.write_all(chunk).map_err(Rejection::Io)?;
        }
    }
    if last != b'\n' {
        lines += 1;
    }
    if let Some(out) = out {
        let file = out
            .into_inner()
            .map_err(|e| Rejection::Io(e.into_error()))?;
        file.sync_data().map_err(Rejection::Io)?;
    }
    let facts = Facts {
        count: lines,
        length,
        sha256: hex(&hasher.finalize()),
    };
    compare(&facts, expected).map_err(Rejection::Mismatch)?;
    Ok(facts)
}

/// The first difference between what a file held and what was expected.
pub fn compare(facts: &Facts, expected: &Expected) -> Result<(), String> {
    if let Some(length) = expected.length
        && length != facts.length
    {
        return Err(format!(
            "{} bytes of NDJSON where the manifest says {length}",
            facts.length
        ));
    }
    if let Some(count) = expected.count
        && count != facts.count
    {
        return Err(format!(
            "{} resources where the manifest says {count}",
            facts.count
        ));
    }
    if let Some(sha256) = &expected.sha256
        && *sha256 != facts.sha256
    {
        return Err(format!(
            "SHA-256 {} where the manifest says {sha256}",
            facts.sha256
        ));
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(bytes).expect("write");
        encoder.finish().expect("finish")
    }

    #[test]
    fn checks_and_inflates() {
        let dir = tempfile::tempdir().expect("dir");
        let ndjson = b"{\"a\":1}\n{\"a\":2}\n";
        let part = dir.path().join("x.part");
        // Two gzip members, as a concatenating server may send.
        let mut two = gzip(&ndjson[..8]);
        two.extend(gzip(&ndjson[8..]));
        std::fs::write(&part, &two).expect("write");
        let out = dir.path().join("x.ndjson");
        let expected = Expected {
            count: Some(2),
            length: Some(16),
            sha256: Some(hex(&Sha256::digest(ndjson))),
        };
        let facts = check(&part, Encoding::Gzip, Some(&out), &expected).expect("ok");
        assert_eq!(facts.count, 2);
        assert_eq!(std::fs::read(&out).expect("read"), ndjson);

        let wrong = Expected {
            count: Some(3),
            ..expected.clone()
        };
        let Err(Rejection::Mismatch(why)) = check(&part, Encoding::Gzip, None, &wrong) else {
            panic!("a wrong count is a mismatch");
        };
        assert_eq!(why, "2 resources where the manifest says 3");

        std::fs::write(&part, &two[..two.len() - 5]).expect("write");
        assert!(matches!(
            check(&part, Encoding::Gzip, None, &expected),
            Err(Rejection::Mismatch(_))
        ));

        std::fs::write(&part, b"{\"a\":1}").expect("write");
        let facts = check(&part, Encoding::Identity, None, &Expected::default()).expect("ok");
        assert_eq!((facts.count, facts.length), (1, 7));
    }
}
