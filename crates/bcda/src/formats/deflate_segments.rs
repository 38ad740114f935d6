//! One gzip member assembled from text compressed as it is written and
//! from segments compressed earlier (a stored beneficiary's pack), copied
//! in unchanged.
//!
//! A deflate stream may be cut wherever the compressor was flushed with a
//! full flush: the output up to there ends on a byte boundary in a
//! non-final block, and what follows refers to nothing before it. So text
//! compressed on its own and ended that way (a [`Segment`]) is a valid
//! stretch of any deflate stream, provided the compressor writing around it
//! is fully flushed just before it (so that nothing after it refers back
//! across it). That is how pigz joins blocks compressed in parallel; here
//! it lets an export copy a beneficiary's pre-compressed resources into its
//! file instead of compressing them again. The result is one ordinary gzip
//! member: any gzip reader, single-member ones included, reads it whole.
//!
//! The gzip trailer needs the CRC-32 of everything, and the export needs
//! its SHA-256 and line count: a segment's text is needed beside it. The
//! export's reading thread inflates it ([`SegmentInflater`], far cheaper
//! than deflating, and checking the segment is whole), and the writing
//! thread appends both ([`GzipAssembler::append_segment`]).

use std::io::{self, Write};

use flate2::{Compress, Compression, Crc, Decompress, FlushCompress, FlushDecompress, Status};

/// Room the compressor is given at each call.
const OUTPUT_STEP: usize = 64 << 10;

/// How a full flush ends: an empty stored block (length 0, and its
/// complement).
const FULL_FLUSH_END: [u8; 4] = [0, 0, 0xff, 0xff];

/// Compressed bytes gathered before they go to the writer.
const SPILL_BYTES: usize = 256 << 10;

/// A raw deflate compressor writing into a growing buffer.
struct RawDeflate {
    compress: Compress,
    out: Vec<u8>,
    /// Text compressed since the last full flush (or the start).
    pending: bool,
}

impl RawDeflate {
    fn new(level: u32) -> Self {
        Self {
            compress: Compress::new(Compression::new(level.min(9)), false),
            out: Vec::with_capacity(OUTPUT_STEP),
            pending: false,
        }
    }

    fn room(&mut self) {
        if self.out.capacity() - self.out.len() < OUTPUT_STEP / 2 {
            self.out.reserve(OUTPUT_STEP);
        }
    }

    fn write(
        &mut self,
        mut text: &[u8],
        mut spill: impl FnMut(&mut Vec<u8>) -> io::Result<()>,
    ) -> io::Result<()> {
        self.pending |= !text.is_empty();
        while !text.is_empty() {
            self.room();
            let before = self.compress.total_in();
            self.compress
                .compress_vec(text, &mut self.out, FlushCompress::None)
                .map_err(io::Error::other)?;
            let used = usize::try_from(self.compress.total_in() - before).unwrap_or(text.len());
            text = &text[used.min(text.len())..];
            spill(&mut self.out)?;
        }
        Ok(())
    }

    /// A full flush: the output so far ends on a byte boundary, and what
    /// is compressed next refers to nothing before it.
    fn full_flush(
        &mut self,
        mut spill: impl FnMut(&mut Vec<u8>) -> io::Result<()>,
    ) -> io::Result<()> {
        if !self.pending {
            return Ok(());
        }
        loop {
            self.room();
            let room = self.out.capacity() - self.out.len();
            let before = self.out.len();
            self.compress
                .compress_vec(&[], &mut self.out, FlushCompress::Full)
                .map_err(io::Error::other)?;
            // Done once the compressor left room unused.
            let filled = self.out.len() - before == room;
            spill(&mut self.out)?;
            if !filled {
                break;
            }
        }
        self.pending = false;
        Ok(())
    }

    fn finish(&mut self, mut spill: impl FnMut(&mut Vec<u8>) -> io::Result<()>) -> io::Result<()> {
        loop {
            self.room();
            let status = self
                .compress
                .compress_vec(&[], &mut self.out, FlushCompress::Finish)
                .map_err(io::Error::other)?;
            spill(&mut self.out)?;
            if status == Status::StreamEnd {
                return Ok(());
            }
        }
    }
}

/// Text compressed on its own into a [`Segment`] (what the importer stores
/// as a beneficiary's pack).
pub struct SegmentBuilder {
    deflate: RawDeflate,
    text_bytes: u64,
}

impl std::fmt::Debug for SegmentBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentBuilder")
            .field("text_bytes", &self.text_bytes)
            .finish_non_exhaustive()
    }
}

/// A finished segment: raw deflate data ending in a full flush.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The compressed bytes.
    pub deflated: Vec<u8>,
    /// Bytes of text they hold.
    pub text_bytes: u64,
}

impl SegmentBuilder {
    /// Starts a segment compressed at `level` (0-9).
    pub fn new(level: u32) -> Self {
        Self {
            deflate: RawDeflate::new(level),
            text_bytes: 0,
        }
    }

    /// Appends text.
    pub fn write(&mut self, text: &[u8]) -> io::Result<()> {
        self.text_bytes += text.len() as u64;
        self.deflate.write(text, |_| Ok(()))
    }

    /// Bytes of text written so far.
    pub fn text_bytes(&self) -> u64 {
        self.text_bytes
    }

    /// Ends the segment with a full flush.
    pub fn finish(mut self) -> io::Result<Segment> {
        self.deflate.full_flush(|_| Ok(()))?;
        let mut deflated = self.deflate.out;
        deflated.shrink_to_fit();
        Ok(Segment {
            deflated,
            text_bytes: self.text_bytes,
        })
    }
}

/// Inflates segments (checking each is whole), reusing its state.
pub struct SegmentInflater {
    inflate: Decompress,
    /// The pieces [`SegmentInflater::inflate_into`] inflates through.
    scratch: Vec<u8>,
}

impl std::fmt::Debug for SegmentInflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentInflater").finish_non_exhaustive()
    }
}

impl Default for SegmentInflater {
    fn default() -> Self {
        Self {
            inflate: Decompress::new(false),
            scratch: Vec::new(),
        }
    }
}

/// The error for a segment that is not whole.
fn damaged(why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("a stored pack is damaged: {why}"),
    )
}

/// A full flush ends in an empty stored block: a segment without it is cut
/// short, and what follows it in a file would be misread.
fn check_ending(segment: &[u8]) -> io::Result<()> {
    if segment.is_empty() || segment.ends_with(&FULL_FLUSH_END) {
        Ok(())
    } else {
        Err(damaged("it does not end in a full flush"))
    }
}

impl SegmentInflater {
    /// Inflates `segment` (from a [`SegmentBuilder`]) a piece at a time
    /// through `scratch`, handing each piece of text to `text`; returns the
    /// text's length. A segment that is not whole (truncated, damaged, or
    /// ending the deflate stream) is an `InvalidData` error, after some of
    /// its text may have been handed on.
    pub fn inflate_each(
        &mut self,
        segment: &[u8],
        scratch: &mut Vec<u8>,
        mut text: impl FnMut(&[u8]),
    ) -> io::Result<usize> {
        check_ending(segment)?;
        self.inflate.reset(false);
        if scratch.capacity() < OUTPUT_STEP {
            scratch.reserve(OUTPUT_STEP);
        }
        let mut input = segment;
        let mut total = 0;
        loop {
            scratch.clear();
            let before_in = self.inflate.total_in();
            let status = self
                .inflate
                .decompress_vec(input, scratch, FlushDecompress::Sync)
                .map_err(|e| damaged(&e.to_string()))?;
            let used = usize::try_from(self.inflate.total_in() - before_in).unwrap_or(input.len());
            input = &input[used.min(input.len())..];
            if !scratch.is_empty() {
                text(scratch);
                total += scratch.len();
            }
            if status == Status::StreamEnd {
                return Err(damaged("it ends the deflate stream"));
            }
            let output_full = scratch.len() == scratch.capacity();
            if input.is_empty() && !output_full {
                return Ok(total);
            }
            if used == 0 && scratch.is_empty() {
                return Err(damaged("it is truncated"));
            }
        }
    }

    /// [`Self::inflate_each`] appending the text to `out` (which the caller
    /// gives room for: it grows only as needed).
    pub fn inflate_into(&mut self, segment: &[u8], out: &mut Vec<u8>) -> io::Result<usize> {
        let mut scratch = std::mem::take(&mut self.scratch);
        let inflated = self.inflate_each(segment, &mut scratch, |text| out.extend_from_slice(text));
        self.scratch = scratch;
        inflated
    }
}

/// A gzip member written to `W`: text compressed as it comes, and
/// segments copied in.
pub struct GzipAssembler<W: Write> {
    inner: W,
    deflate: RawDeflate,
    crc: Crc,
    /// Compressed bytes handed to `inner`.
    written: u64,
}

impl<W: Write> std::fmt::Debug for GzipAssembler<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GzipAssembler")
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

/// Writes the buffer to `inner` once it holds [`SPILL_BYTES`] (or at once
/// when `all`).
fn spill_to<W: Write>(
    inner: &mut W,
    written: &mut u64,
    out: &mut Vec<u8>,
    all: bool,
) -> io::Result<()> {
    if !out.is_empty() && (all || out.len() >= SPILL_BYTES) {
        inner.write_all(out)?;
        *written += out.len() as u64;
        out.clear();
    }
    Ok(())
}

impl<W: Write> GzipAssembler<W> {
    /// Starts a gzip member compressed at `level`, with the header flate2's
    /// `GzEncoder` writes (no name, no time, unknown system).
    pub fn new(inner: W, level: u32) -> Self {
        let level = level.min(9);
        let extra_flags = if level >= 9 {
            2
        } else if level <= 1 {
            4
        } else {
            0
        };
        let mut deflate = RawDeflate::new(level);
        deflate
            .out
            .extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, extra_flags, 255]);
        Self {
            inner,
            deflate,
            crc: Crc::new(),
            written: 0,
        }
    }

    /// Compresses `text`.
    pub fn write(&mut self, text: &[u8]) -> io::Result<()> {
        self.crc.update(text);
        let (inner, written) = (&mut self.inner, &mut self.written);
        self.deflate
            .write(text, |out| spill_to(inner, written, out, false))
    }

    /// Copies in `segment` (raw deflate ending in a full flush, from a
    /// [`SegmentBuilder`]), whose text is `text` (from a
    /// [`SegmentInflater`], which checked it whole). A segment without a
    /// full flush's ending is refused (`InvalidData`) before anything is
    /// written.
    pub fn append_segment(&mut self, segment: &[u8], text: &[u8]) -> io::Result<()> {
        self.begin_segment(segment)?;
        self.segment_text(text);
        Ok(())
    }

    /// Copies in `segment` as [`Self::append_segment`] does, its text to
    /// follow piece by piece through [`Self::segment_text`] (for a segment
    /// inflated as it is copied).
    pub fn begin_segment(&mut self, segment: &[u8]) -> io::Result<()> {
        check_ending(segment)?;
        let (inner, written) = (&mut self.inner, &mut self.written);
        self.deflate
            .full_flush(|out| spill_to(inner, written, out, false))?;
        spill_to(inner, written, &mut self.deflate.out, true)?;
        inner.write_all(segment)?;
        *written += segment.len() as u64;
        Ok(())
    }

    /// The next piece of the text of the segment last begun.
    pub fn segment_text(&mut self, text: &[u8]) {
        self.crc.update(text);
    }

    /// Compressed bytes written so far (the header included once spilled).
    pub fn compressed_bytes(&self) -> u64 {
        self.written + self.deflate.out.len() as u64
    }

    /// Ends the deflate stream, writes the trailer and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        let (inner, written) = (&mut self.inner, &mut self.written);
        self.deflate
            .finish(|out| spill_to(inner, written, out, false))?;
        self.deflate
            .out
            .extend_from_slice(&self.crc.sum().to_le_bytes());
        self.deflate
            .out
            .extend_from_slice(&self.crc.amount().to_le_bytes());
        spill_to(inner, written, &mut self.deflate.out, true)?;
        Ok(self.inner)
    }

    /// The writer, without finishing the member (to abandon it).
    pub fn into_inner(self) -> W {
        self.inner
    }
}

/// How many `\n` bytes `text` holds (counted in blocks a compiler turns
/// into vector code: a plain filter-and-count cost as much as hashing).
pub fn count_newlines(text: &[u8]) -> usize {
    text.chunks(255)
        .map(|block| {
            usize::from(
                block
                    .iter()
                    .fold(0u8, |n, &b| n.wrapping_add(u8::from(b == b'\n'))),
            )
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn text(seed: u64, lines: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut x = seed;
        for i in 0..lines {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            out.extend_from_slice(
                format!("{{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"{i}-{}\",\"total\":{}}}\n", x >> 40, x % 997)
                    .as_bytes(),
            );
        }
        out
    }

    fn segment(level: u32, text: &[u8]) -> Segment {
        let mut b = SegmentBuilder::new(level);
        // In uneven pieces, as rows arrive.
        for piece in text.chunks(777) {
            b.write(piece).expect("write");
        }
        b.finish().expect("finish")
    }

    fn gunzip_single_member(bytes: &[u8]) -> Vec<u8> {
        // GzDecoder reads one member only: the file must be one member.
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .expect("gunzip");
        out
    }

    #[test]
    fn plain_text_and_segments_in_any_order_make_one_gzip_member() {
        for level in [0, 1, 6, 9] {
            let parts: Vec<(bool, Vec<u8>)> = vec![
                (true, text(1, 300)),
                (false, text(2, 50)),
                (false, text(3, 1)),
                (true, text(4, 2000)),
                (true, text(5, 7)),
                (false, text(6, 3000)),
            ];
            let mut expected = Vec::new();
            let mut handed = Vec::new();
            let mut gz = GzipAssembler::new(Vec::new(), level);
            for (is_segment, part) in &parts {
                expected.extend_from_slice(part);
                if *is_segment {
                    let seg = segment(level, part);
                    assert_eq!(seg.text_bytes, part.len() as u64);
                    let mut inflated = b"left as it was".to_vec();
                    let n = SegmentInflater::default()
                        .inflate_into(&seg.deflated, &mut inflated)
                        .expect("inflate");
                    assert_eq!(n, part.len());
                    assert_eq!(&inflated[..14], b"left as it was");
                    gz.append_segment(&seg.deflated, &inflated[14..])
                        .expect("append");
                    handed.extend_from_slice(&inflated[14..]);
                } else {
                    gz.write(part).expect("write");
                    handed.extend_from_slice(part);
                }
            }
            let reported = gz.compressed_bytes();
            let bytes = gz.finish().expect("finish");
            assert!(reported <= bytes.len() as u64);
            assert_eq!(gunzip_single_member(&bytes), expected, "level {level}");
            assert_eq!(handed, expected);
            // The trailer's CRC and length are checked by the decoder; the
            // header is GzEncoder's.
            let mut reference = flate2::write::GzEncoder::new(Vec::new(), Compression::new(level));
            reference.write_all(b"x").expect("write");
            assert_eq!(bytes[..10], reference.finish().expect("finish")[..10]);
        }
    }

    #[test]
    fn a_file_of_segments_only_or_of_nothing_is_valid() {
        let mut gz = GzipAssembler::new(Vec::new(), 1);
        let a = text(7, 10);
        gz.append_segment(&segment(1, &a).deflated, &a)
            .expect("append");
        gz.append_segment(&segment(1, &a).deflated, &a)
            .expect("append");
        let bytes = gz.finish().expect("finish");
        assert_eq!(gunzip_single_member(&bytes), [a.clone(), a].concat());

        let empty = GzipAssembler::new(Vec::new(), 1).finish().expect("finish");
        assert!(gunzip_single_member(&empty).is_empty());
    }

    #[test]
    fn damaged_segments_are_refused() {
        let good = segment(1, &text(8, 200)).deflated;
        let mut inflater = SegmentInflater::default();
        let mut out = Vec::new();
        for bad in [
            // Cut short.
            &good[..good.len() / 2],
            // Garbage.
            &[0xff; 64][..],
            // Garbage with a full flush's ending.
            &[0xff, 0xff, 0xff, 0xff, 0, 0, 0xff, 0xff][..],
        ] {
            let err = inflater.inflate_into(bad, &mut out).expect_err("damaged");
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        }
        // A whole deflate stream (with its final block) is not a segment.
        let mut whole = flate2::write::DeflateEncoder::new(Vec::new(), Compression::new(1));
        whole.write_all(&text(9, 20)).expect("write");
        whole.flush().expect("flush");
        let mut whole = whole.finish().expect("finish");
        whole.extend_from_slice(&FULL_FLUSH_END);
        assert!(inflater.inflate_into(&whole, &mut out).is_err());
        // Still good after all that.
        out.clear();
        inflater.inflate_into(&good, &mut out).expect("inflate");
        assert_eq!(out, text(8, 200));
        // The assembler refuses a segment cut short before writing it.
        let mut gz = GzipAssembler::new(Vec::new(), 1);
        gz.write(b"kept").expect("write");
        assert!(gz.append_segment(&good[..good.len() - 1], b"").is_err());
    }

    #[test]
    fn newlines_are_counted_across_blocks() {
        let mut text = vec![b'x'; 1000];
        for i in (0..1000).step_by(3) {
            text[i] = b'\n';
        }
        for len in [0, 1, 254, 255, 256, 999, 1000] {
            let slow = text[..len].iter().filter(|&&b| b == b'\n').count();
            assert_eq!(count_newlines(&text[..len]), slow, "{len}");
        }
        assert_eq!(count_newlines(&[b'\n'; 600]), 600);
    }
}
