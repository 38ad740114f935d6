//! How a resource's JSON is kept in the `resources.body` column: as it
//! arrived, or compressed by the importer, each resource on its own.
//!
//! Why compressed: SQLite stores what it is given, and in WAL mode every
//! byte an import writes goes to disk twice (the WAL, then the database at
//! the checkpoint that ends the file's transaction), the second time on one
//! core after the file's last line. PostgreSQL stores fewer bytes too (and
//! is sent fewer); it leaves a value that does not compress further as it
//! is.
//!
//! How: zstd at level 1 with a dictionary trained on BFD-shaped resources
//! of every type and FHIR version (`stored_body.zdict`, made by
//! `scripts/train-stored-body-dictionary`). A resource alone is too short
//! for a compressor to learn FHIR's keys, code systems and BFD's URLs from;
//! the dictionary holds them, so each resource is compressed as if it came
//! after many like it. On the synthetic ACO's files (another seed than the
//! dictionary's) an ExplanationOfBenefit compresses about 29-fold, against
//! 6-fold for zlib alone, and several times faster (docs/BENCHMARKS.md,
//! issue 17). Real data differs from the synthetic in its values, not its
//! shape, so it compresses less than this, and is read back the same.
//!
//! The dictionary is part of the stored format: a body names it by its
//! dictionary ID (in the zstd frame header), and a store's bodies need it
//! for ever. It is never replaced; a better one would get a new ID and be
//! kept beside it.
//!
//! Three forms are told apart by their first byte, so a store may hold all
//! of them (rows written before compression, by tests, or by the build that
//! compressed with zlib): a resource is a JSON object and starts with `{`
//! (0x7B); a zstd frame starts with its magic number, first byte 0x28; a
//! zlib stream with its method byte, 0x78 for deflate with a 32 KiB window.
//! Both compressed forms carry a checksum of the JSON (zstd's XXH64, zlib's
//! Adler-32), checked on reading, so a damaged row fails the export instead
//! of going out wrong.

use std::sync::LazyLock;

use flate2::{Decompress, FlushDecompress, Status};
use zstd::zstd_safe::{self, CCtx, CDict, CParameter, DCtx, DDict};

use super::ndjson::MAX_RESOURCE_LINE_BYTES;

/// The dictionary bodies are compressed with (see the module's doc).
const DICTIONARY: &[u8] = include_bytes!("stored_body.zdict");

/// zstd's level: its fastest standard one. With the dictionary it
/// compresses a resource several times better than zlib's level 1.
const LEVEL: i32 = 1;

/// The first byte of a zstd frame (its magic number, 0xFD2FB528, little
/// endian).
const ZSTD_FIRST_BYTE: u8 = 0x28;

/// The first byte of a zlib stream (deflate, 32 KiB window): bodies stored
/// by the build before the dictionary.
const ZLIB_FIRST_BYTE: u8 = 0x78;

/// The dictionary, prepared for compressing at [`LEVEL`] (once per
/// process: preparing it costs more than compressing a resource).
static COMPRESS_DICTIONARY: LazyLock<CDict<'static>> =
    LazyLock::new(|| CDict::create(DICTIONARY, LEVEL));

/// The dictionary, prepared for decompressing.
static DECOMPRESS_DICTIONARY: LazyLock<DDict<'static>> =
    LazyLock::new(|| DDict::create(DICTIONARY));

/// The dictionary's ID, as compressed bodies name it.
fn dictionary_id() -> u32 {
    zstd_safe::get_dict_id_from_dict(DICTIONARY).map_or(0, |id| id.get())
}

/// Compresses bodies one after another, reusing its context.
pub struct BodyCompressor {
    context: CCtx<'static>,
    /// Room for the largest frame of a resource, reused; each body gets a
    /// copy of exactly its size.
    frame: Vec<u8>,
}

impl Default for BodyCompressor {
    fn default() -> Self {
        Self::new()
    }
}

impl BodyCompressor {
    /// A compressor with the dictionary, writing frames that name it, hold
    /// the JSON's size, and end with a checksum of it.
    pub fn new() -> Self {
        let mut context = CCtx::create();
        // Setting these cannot fail: they are valid parameters of every
        // zstd, and the dictionary is the one this binary carries.
        let _ = context.ref_cdict(&COMPRESS_DICTIONARY);
        let _ = context.set_parameter(CParameter::ChecksumFlag(true));
        let _ = context.set_parameter(CParameter::ContentSizeFlag(true));
        let _ = context.set_parameter(CParameter::DictIdFlag(true));
        Self {
            context,
            frame: Vec::new(),
        }
    }

    /// The stored form of `json` (a resource, starting with `{`). The same
    /// JSON always gives the same bytes (the upsert compares stored bodies
    /// to see whether a resource changed).
    pub fn compress(&mut self, json: &[u8]) -> Vec<u8> {
        self.frame.clear();
        self.frame.reserve(zstd_safe::compress_bound(json.len()));
        match self.context.compress2(&mut self.frame, json) {
            Ok(_) => self.frame.clone(),
            // Cannot happen with room for the bound; keep the JSON as it
            // is, which reads back the same.
            Err(_) => json.to_vec(),
        }
    }
}

/// Whether `stored` is a compressed body (else it is the JSON itself).
pub fn is_compressed(stored: &[u8]) -> bool {
    matches!(stored.first(), Some(&(ZSTD_FIRST_BYTE | ZLIB_FIRST_BYTE)))
}

/// Reads stored bodies back one after another, reusing its state: a page of
/// an export's rows goes through one decoder.
pub struct BodyDecoder {
    zstd: DCtx<'static>,
    /// The JSON of the last zstd body (zstd writes from the start of its
    /// buffer), reused.
    json: Vec<u8>,
    /// Made on the first zlib body, then reset for each.
    zlib: Option<Decompress>,
}

impl Default for BodyDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl BodyDecoder {
    /// A decoder with the dictionary.
    pub fn new() -> Self {
        let mut zstd = DCtx::create();
        let _ = zstd.ref_ddict(&DECOMPRESS_DICTIONARY);
        Self {
            zstd,
            json: Vec::new(),
            zlib: None,
        }
    }

    /// Appends the JSON of a stored body to `out`; an error names what is
    /// wrong with a compressed one (cut short, damaged, or made with a
    /// dictionary this build does not have).
    pub fn decode_into(&mut self, stored: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        match stored.first() {
            Some(&ZSTD_FIRST_BYTE) => {
                self.decode_zstd(stored)?;
                out.extend_from_slice(&self.json);
                Ok(())
            }
            Some(&ZLIB_FIRST_BYTE) => {
                let zlib = self.zlib.get_or_insert_with(|| Decompress::new(true));
                zlib.reset(true);
                inflate_into(zlib, stored, out)
            }
            _ => {
                out.extend_from_slice(stored);
                Ok(())
            }
        }
    }

    /// Decompresses one zstd body into `self.json`.
    fn decode_zstd(&mut self, stored: &[u8]) -> Result<(), String> {
        let size = match zstd_safe::get_frame_content_size(stored) {
            Ok(Some(size)) => size,
            Ok(None) | Err(_) => return Err("a stored resource is cut short".to_owned()),
        };
        // A damaged header could claim any size: no resource is longer
        // than an import takes.
        let size = usize::try_from(size)
            .ok()
            .filter(|&size| size <= MAX_RESOURCE_LINE_BYTES)
            .ok_or_else(|| "a stored resource is damaged: its size is impossible".to_owned())?;
        match zstd_safe::get_dict_id_from_frame(stored) {
            Some(id) if id.get() == dictionary_id() => {}
            Some(id) => {
                return Err(format!(
                    "a stored resource was compressed with dictionary {id}, which this build does not have"
                ));
            }
            None => {
                return Err("a stored resource is damaged: it names no dictionary".to_owned());
            }
        }
        self.json.clear();
        self.json.reserve(size);
        let written = self
            .zstd
            .decompress_using_ddict(&mut self.json, stored, &DECOMPRESS_DICTIONARY)
            .map_err(|code| {
                format!(
                    "a stored resource is damaged: {}",
                    zstd_safe::get_error_name(code)
                )
            })?;
        if written != size {
            return Err("a stored resource is damaged: its size does not match".to_owned());
        }
        Ok(())
    }
}

/// Inflates one zlib body, appending it to `out`.
fn inflate_into(inflate: &mut Decompress, stored: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
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
    use flate2::{Compress, Compression, FlushCompress};

    fn decode(stored: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = b"before|".to_vec();
        BodyDecoder::new().decode_into(stored, &mut out)?;
        Ok(out[7..].to_vec())
    }

    /// An ExplanationOfBenefit as the synthetic generator writes one.
    fn eob() -> Vec<u8> {
        let json = br#"{"resourceType":"ExplanationOfBenefit","id":"carrier--10000000001","meta":{"lastUpdated":"2026-01-01T00:00:00+00:00","profile":["http://hl7.org/fhir/us/carin-bb/StructureDefinition/C4BB-ExplanationOfBenefit-Professional-NonClinician"]},"identifier":[{"type":{"coding":[{"system":"http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBIdentifierType","code":"uc"}]},"system":"https://bluebutton.cms.gov/resources/variables/clm_id","value":"-10000000001"}],"status":"active","type":{"coding":[{"system":"https://bluebutton.cms.gov/resources/variables/nch_clm_type_cd","code":"71"},{"system":"http://hl7.org/fhir/claim-type","code":"professional"}]},"patient":{"reference":"Patient/-10000000001"}}"#;
        json.to_vec()
    }

    #[test]
    fn compressed_bodies_read_back_exactly_and_are_smaller() {
        let mut compressor = BodyCompressor::new();
        let json = eob();
        let stored = compressor.compress(&json);
        assert!(is_compressed(&stored));
        assert_eq!(stored.first(), Some(&ZSTD_FIRST_BYTE));
        // The dictionary holds what every ExplanationOfBenefit says.
        assert!(
            stored.len() * 4 < json.len(),
            "{} of {}",
            stored.len(),
            json.len()
        );
        assert_eq!(decode(&stored).expect("decode"), json);
        // The context is reused: a second body is compressed on its own.
        let small = br#"{"resourceType":"Patient","id":"-1"}"#;
        let again = compressor.compress(small);
        assert_eq!(decode(&again).expect("decode"), small);
        // The same input always gives the same bytes.
        assert_eq!(compressor.compress(&json), stored);
        // One decoder reads many bodies.
        let mut decoder = BodyDecoder::new();
        let mut out = Vec::new();
        for body in [&stored[..], &again[..], &stored[..]] {
            decoder.decode_into(body, &mut out).expect("decode");
        }
        assert_eq!(out, [&json[..], &small[..], &json[..]].concat());
    }

    #[test]
    fn plain_json_is_kept_as_it_is() {
        let json = br#"{"resourceType":"Patient","id":"-1"}"#;
        assert!(!is_compressed(json));
        assert_eq!(decode(json).expect("plain"), json);
        assert_eq!(decode(b"").expect("empty"), b"");
    }

    #[test]
    fn bodies_stored_with_zlib_still_read_back() {
        let json = br#"{"resourceType":"Coverage","id":"part-a-1","status":"active"}"#.repeat(20);
        let mut zlib = Compress::new(Compression::fast(), true);
        let mut stored = Vec::with_capacity(json.len() + 64);
        let status = zlib
            .compress_vec(&json, &mut stored, FlushCompress::Finish)
            .expect("deflate");
        assert_eq!(status, Status::StreamEnd);
        assert!(is_compressed(&stored));
        // Twice through one decoder: its inflate state is reset per body.
        let mut decoder = BodyDecoder::new();
        let mut out = Vec::new();
        decoder.decode_into(&stored, &mut out).expect("first");
        decoder.decode_into(&stored, &mut out).expect("second");
        assert_eq!(out, json.repeat(2));
        let cut = decode(&stored[..stored.len() - 6]).expect_err("cut");
        assert!(cut.contains("cut short"), "{cut}");
        let mut flipped = stored.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x01; // the Adler-32
        assert!(decode(&flipped).expect_err("checksum").contains("damaged"));
        stored.push(b'x');
        let trailing = decode(&stored).expect_err("trailing");
        assert!(trailing.contains("after its end"), "{trailing}");
    }

    #[test]
    fn damaged_bodies_are_refused() {
        let json = eob();
        let stored = BodyCompressor::new().compress(&json);
        for cut_at in [2, stored.len() / 2, stored.len() - 1] {
            let cut = decode(&stored[..cut_at]).expect_err("cut");
            assert!(
                cut.contains("cut short") || cut.contains("damaged"),
                "{cut_at}: {cut}"
            );
        }
        let mut flipped = stored.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x01; // the checksum
        let checksum = decode(&flipped).expect_err("checksum");
        assert!(checksum.contains("damaged"), "{checksum}");
        let mut longer = stored.clone();
        longer.push(b'x');
        assert!(decode(&longer).expect_err("trailing").contains("damaged"));
        // A frame made with another dictionary is named as such.
        let mut other = CCtx::create();
        let _ = other.set_parameter(CParameter::ChecksumFlag(true));
        let foreign_dictionary = [b"{\"resourceType\":\"Claim\"".as_slice(); 64].concat();
        let mut foreign = Vec::with_capacity(zstd_safe::compress_bound(json.len()) + 64);
        other
            .compress_using_dict(&mut foreign, &json, &foreign_dictionary, LEVEL)
            .expect("compress");
        let error = decode(&foreign).expect_err("no dictionary id");
        assert!(error.contains("damaged"), "{error}");
    }

    #[test]
    fn the_dictionary_is_the_one_stored_bodies_name() {
        // Bodies already stored name this ID: the file must never change.
        assert_eq!(dictionary_id(), 1_363_230_701);
        assert_eq!(DICTIONARY.len(), 64 * 1024);
    }
}
