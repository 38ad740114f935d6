//! How a resource's JSON is kept in the `resources.body` column: as it
//! arrived, or compressed (zlib, deflate level 1) by the importer.
//!
//! Why compressed: SQLite stores what it is given, and in WAL mode every
//! byte an import writes goes to disk twice (the WAL, then the database at
//! the checkpoint that ends the file's transaction). FHIR JSON compresses
//! about fourfold one resource at a time, so an import writes a quarter of
//! the bytes, and the checkpoint, which runs on one core after the last
//! line, copies a quarter of the pages (docs/BENCHMARKS.md, issue 17).
//! PostgreSQL stores fewer bytes too (and sends fewer to the server); it
//! leaves a value that does not compress further as it is.
//!
//! The two forms are told apart by their first byte, so a store may hold
//! both (rows written before compression, or by tests, are plain JSON): a
//! resource is a JSON object and starts with `{` (0x7B); a zlib stream
//! starts with its method byte, 0x78 for deflate with a 32 KiB window.
//! The stream's Adler-32 is checked on reading, so a damaged row fails the
//! export instead of going out wrong.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The first byte of every compressed body (zlib: deflate, 32 KiB window).
const ZLIB_METHOD: u8 = 0x78;

/// Compresses bodies one after another, reusing its state (setting up a
/// deflate stream costs more than compressing a small resource).
pub struct BodyCompressor {
    compress: Compress,
}

impl Default for BodyCompressor {
    fn default() -> Self {
        Self::new()
    }
}

impl BodyCompressor {
    /// A compressor at deflate level 1: the export's default level, the
    /// cheapest that still compresses JSON well.
    pub fn new() -> Self {
        Self {
            compress: Compress::new(Compression::fast(), true),
        }
    }

    /// The stored form of `json` (a resource, starting with `{`).
    pub fn compress(&mut self, json: &[u8]) -> Vec<u8> {
        self.compress.reset();
        // Room for incompressible input (deflate's stored blocks add 5
        // bytes per 64 KiB) and the zlib header and trailer.
        let mut out = Vec::with_capacity(json.len() / 3 + 64);
        loop {
            let consumed = usize::try_from(self.compress.total_in()).unwrap_or(usize::MAX);
            let input = json.get(consumed..).unwrap_or_default();
            if out.capacity() - out.len() < 64 {
                out.reserve(json.len() / 4 + 64);
            }
            match self
                .compress
                .compress_vec(input, &mut out, FlushCompress::Finish)
            {
                Ok(Status::StreamEnd) => return out,
                Ok(_) => {}
                // Deflate cannot fail on valid state; keep the JSON as it is.
                Err(_) => return json.to_vec(),
            }
        }
    }
}

/// Whether `stored` is a compressed body (else it is the JSON itself).
pub fn is_compressed(stored: &[u8]) -> bool {
    stored.first() == Some(&ZLIB_METHOD)
}

/// Appends the JSON of a stored body to `out`; an error names what is
/// wrong with a compressed one (cut short, damaged, or not zlib).
pub fn decode_into(stored: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    if !is_compressed(stored) {
        out.extend_from_slice(stored);
        return Ok(());
    }
    let mut inflate = Decompress::new(true);
    loop {
        let consumed = usize::try_from(inflate.total_in()).unwrap_or(usize::MAX);
        let input = stored.get(consumed..).unwrap_or_default();
        if out.capacity() - out.len() < 1024 {
            out.reserve(stored.len().saturating_mul(4).max(4096));
        }
        let before = (inflate.total_in(), inflate.total_out());
        match inflate.decompress_vec(input, out, FlushDecompress::Finish) {
            Ok(Status::StreamEnd) => {
                return if inflate.total_in() == stored.len() as u64 {
                    Ok(())
                } else {
                    Err("a stored resource has bytes after its end".to_owned())
                };
            }
            Ok(_) if (inflate.total_in(), inflate.total_out()) == before && input.is_empty() => {
                return Err("a stored resource is cut short".to_owned());
            }
            Ok(_) => {}
            Err(e) => return Err(format!("a stored resource is damaged: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(stored: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = b"before|".to_vec();
        decode_into(stored, &mut out)?;
        Ok(out[7..].to_vec())
    }

    #[test]
    fn compressed_bodies_read_back_exactly_and_are_smaller() {
        let mut compressor = BodyCompressor::new();
        let json = br#"{"resourceType":"ExplanationOfBenefit","id":"carrier--1","item":[{"sequence":1},{"sequence":2},{"sequence":3}]}"#.repeat(40);
        let stored = compressor.compress(&json);
        assert!(is_compressed(&stored));
        assert!(
            stored.len() * 4 < json.len(),
            "{} of {}",
            stored.len(),
            json.len()
        );
        assert_eq!(decode(&stored).expect("decode"), json);
        // The state is reused: a second body is compressed on its own.
        let small = br#"{"resourceType":"Patient","id":"-1"}"#;
        let again = compressor.compress(small);
        assert_eq!(decode(&again).expect("decode"), small);
        // The same input always gives the same bytes (the upsert compares
        // stored bodies to see whether a resource changed).
        assert_eq!(compressor.compress(&json), stored);
    }

    #[test]
    fn plain_json_is_kept_as_it_is() {
        let json = br#"{"resourceType":"Patient","id":"-1"}"#;
        assert!(!is_compressed(json));
        assert_eq!(decode(json).expect("plain"), json);
        assert_eq!(decode(b"").expect("empty"), b"");
    }

    #[test]
    fn damaged_bodies_are_refused() {
        let json = br#"{"resourceType":"Coverage","id":"part-a-1","status":"active"}"#.repeat(20);
        let stored = BodyCompressor::new().compress(&json);
        let cut = decode(&stored[..stored.len() - 6]).expect_err("cut");
        assert!(cut.contains("cut short"), "{cut}");
        let mut flipped = stored.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x01; // the Adler-32
        assert!(decode(&flipped).expect_err("checksum").contains("damaged"));
        let mut longer = stored;
        longer.push(b'x');
        assert!(
            decode(&longer)
                .expect_err("trailing")
                .contains("after its end")
        );
    }
}
