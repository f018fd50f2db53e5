//! gzip of a whole buffer in one pass: the forwarder's HEC batches (`hec.gzip_level: 1`, the default)
//! and the archive's objects (`archive.gzip_level: 1`), each buffer one gzip member.
//!
//! Greedy LZ77 with one candidate per 4-byte hash, coded with deflate's fixed Huffman codes (RFC 1951,
//! 3.2.6) in one final block: what zlib's level 1 (`deflate_quick`, the same codes and the same kind
//! of search) does, without a sliding window to copy into or stream state to keep, as the whole buffer
//! is in memory when it is compressed. On the bench's events it gives zlib-rs's level-1 ratio at about
//! 1.7 times its speed (BENCHMARKS.md); compression is the forwarder's one big cost after the rules.
//!
//! Any deflate decoder reads the output; the tests check it against zlib-rs's inflate.

/// log2 of the hash table's size.
const HASH_BITS: u32 = 15;
/// Deflate's largest distance.
const WINDOW: usize = 32 * 1024;
/// Matches start at 4 bytes (the hashed ones); 3-byte matches would save little with fixed codes.
const MIN_MATCH: usize = 4;
/// Deflate's longest match.
const MAX_MATCH: usize = 258;

/// Base and extra bits of the length codes 257..=285 and the distance codes 0..=29 (RFC 1951, 3.2.5).
const LEN_BASE: [u32; 29] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LEN_EXTRA: [u32; 29] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE: [u32; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u32; 30] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];

/// Codes as written: bit-reversed (Huffman codes go most significant bit first, the writer fills
/// bytes from their least significant bit), with their length.
struct Tables {
    lit: [(u32, u32); 256],
    /// Per match length 3..=258: its code followed by its extra bits, as one field.
    len: [(u32, u32); MAX_MATCH + 1],
    /// Per distance code: its 5-bit code, base distance and extra bits.
    dist: [(u32, u32, u32); 30],
    /// The distance code of distances 1..=256 (at `d - 1`) and 257..=32768 (at `256 + ((d - 1) >> 7)`).
    dist_index: [u8; 512],
}

const fn reverse(code: u32, len: u32) -> u32 {
    let mut r = 0;
    let mut i = 0;
    while i < len {
        r |= ((code >> i) & 1) << (len - 1 - i);
        i += 1;
    }
    r
}

/// The fixed code of literal/length symbol `sym` (RFC 1951, 3.2.6), reversed, and its length.
const fn fixed(sym: u32) -> (u32, u32) {
    let (code, len) = if sym < 144 {
        (0x30 + sym, 8)
    } else if sym < 256 {
        (0x190 + sym - 144, 9)
    } else if sym < 280 {
        (sym - 256, 7)
    } else {
        (0xc0 + sym - 280, 8)
    };
    (reverse(code, len), len)
}

static TABLES: Tables = {
    let mut lit = [(0, 0); 256];
    let mut i = 0;
    while i < 256 {
        lit[i] = fixed(i as u32);
        i += 1;
    }
    let mut len = [(0, 0); MAX_MATCH + 1];
    let mut l = 3;
    while l <= MAX_MATCH {
        let mut c = LEN_BASE.len() - 1;
        while LEN_BASE[c] > l as u32 {
            c -= 1;
        }
        let (code, n) = fixed(257 + c as u32);
        len[l] = (code | ((l as u32 - LEN_BASE[c]) << n), n + LEN_EXTRA[c]);
        l += 1;
    }
    let mut dist = [(0, 0, 0); 30];
    let mut c = 0;
    while c < 30 {
        dist[c] = (reverse(c as u32, 5), DIST_BASE[c], DIST_EXTRA[c]);
        c += 1;
    }
    let mut dist_index = [0u8; 512];
    let mut d = 1;
    while d <= WINDOW {
        let mut c = DIST_BASE.len() - 1;
        while DIST_BASE[c] > d as u32 {
            c -= 1;
        }
        dist_index[if d <= 256 { d - 1 } else { 256 + ((d - 1) >> 7) }] = c as u8;
        d += 1;
    }
    Tables { lit, len, dist, dist_index }
};

/// Bits written least significant first, 32 at a time.
struct Bits<'o> {
    out: &'o mut Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits<'_> {
    /// Appends the low `n` bits of `bits` (`n` <= 32, higher bits clear).
    #[inline(always)]
    fn put(&mut self, bits: u32, n: u32) {
        self.acc |= u64::from(bits) << self.n;
        self.n += n;
        if self.n >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.n -= 32;
        }
    }

    /// Writes what is left, padded to a byte.
    fn finish(mut self) {
        while self.n > 0 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n = self.n.saturating_sub(8);
        }
    }
}

#[inline(always)]
fn read4(s: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(s[i..i + 4].try_into().unwrap_or_default())
}

#[inline(always)]
fn read8(s: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(s[i..i + 8].try_into().unwrap_or_default())
}

/// The encoder; its hash table is kept from buffer to buffer.
pub struct Gzip {
    table: Vec<u32>,
}

impl Default for Gzip {
    fn default() -> Gzip {
        Gzip { table: vec![0; 1 << HASH_BITS] }
    }
}

impl Gzip {
    /// Appends `src` as one gzip member to `out`.
    pub fn compress(&mut self, src: &[u8], out: &mut Vec<u8>) {
        // Fixed codes take at most 9 bits a byte; log lines take a sixth of that.
        out.reserve(src.len() / 4 + 64);
        // No name, no time, unknown OS (as flate2 writes it).
        out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
        // Stale entries would only be candidates that fail the comparison; cleared so that the output
        // depends on this buffer alone.
        self.table.fill(0);
        let t = &TABLES;
        let mut bits = Bits { out, acc: 0, n: 0 };
        // BFINAL = 1, BTYPE = 01 (fixed Huffman codes).
        bits.put(0b011, 3);
        let n = src.len();
        let mut i = 0;
        if n >= MIN_MATCH + 8 {
            let last = n - MIN_MATCH;
            while i <= last {
                let cur = read4(src, i);
                let h = (cur.wrapping_mul(0x9e37_79b1) >> (32 - HASH_BITS)) as usize;
                let cand = self.table[h] as usize;
                self.table[h] = i as u32;
                if cand < i && i - cand <= WINDOW && read4(src, cand) == cur {
                    let max = (n - i).min(MAX_MATCH);
                    let mut len = MIN_MATCH;
                    // 8 bytes a step while 8 remain, then byte by byte.
                    while len + 8 <= max {
                        let x = read8(src, cand + len) ^ read8(src, i + len);
                        if x != 0 {
                            len += (x.trailing_zeros() / 8) as usize;
                            break;
                        }
                        len += 8;
                    }
                    if len + 8 > max {
                        while len < max && src[cand + len] == src[i + len] {
                            len += 1;
                        }
                    }
                    let d = i - cand;
                    let c = t.dist_index[if d <= 256 { d - 1 } else { 256 + ((d - 1) >> 7) }];
                    let (dcode, dbase, dextra) = t.dist[c as usize];
                    let (lbits, ln) = t.len[len];
                    // At most 13 + 18 bits: one field.
                    bits.put(lbits | ((dcode | ((d as u32 - dbase) << 5)) << ln), ln + 5 + dextra);
                    i += len;
                } else {
                    let (b, l) = t.lit[src[i] as usize];
                    bits.put(b, l);
                    i += 1;
                }
            }
        }
        for &b in &src[i.min(n)..] {
            let (b, l) = t.lit[b as usize];
            bits.put(b, l);
        }
        let (end_of_block, l) = fixed(256);
        bits.put(end_of_block, l);
        bits.finish();
        let mut crc = crc32fast::Hasher::new();
        crc.update(src);
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        // ISIZE is the length modulo 2^32.
        out.extend_from_slice(&(src.len() as u32).to_le_bytes());
    }
}

/// One gzip member per buffer at a given level: 1 by [`Gzip`], 2–9 by zlib-rs. For writers that compress
/// bounded pieces of a larger stream (the archive's objects), whose members concatenated are one gzip
/// file (RFC 1952, 2.2) that zcat, Python's `gzip`, Athena and logtrim's replay read whole.
pub enum Members {
    /// Level 1: logtrim's encoder. Boxed with its table.
    Own(Box<Gzip>),
    /// Levels 2–9: zlib-rs; its state is made per member (a member is large enough that this does not show).
    Zlib(u32),
}

impl Members {
    /// The encoder of `level` (clamped to 1–9).
    pub fn new(level: u32) -> Members {
        match level.clamp(1, 9) {
            1 => Members::Own(Box::default()),
            l => Members::Zlib(l),
        }
    }

    /// Appends `src` as one gzip member to `out`.
    pub fn compress(&mut self, src: &[u8], out: &mut Vec<u8>) {
        match self {
            Members::Own(g) => g.compress(src, out),
            Members::Zlib(level) => {
                use std::io::Write;
                let mut z = flate2::write::GzEncoder::new(out, flate2::Compression::new(*level));
                // Writing into a Vec cannot fail.
                let _ = z.write_all(src);
                let _ = z.finish();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn round_trip(g: &mut Gzip, src: &[u8]) -> Vec<u8> {
        let mut out = b"kept".to_vec();
        g.compress(src, &mut out);
        assert_eq!(&out[..4], b"kept");
        let mut back = Vec::new();
        // zlib-rs's inflate, which also checks the CRC and the length.
        flate2::read::GzDecoder::new(&out[4..]).read_to_end(&mut back).expect("valid gzip");
        assert!(back == src, "{} bytes came back as {}", src.len(), back.len());
        out.split_off(4)
    }

    #[test]
    fn edges() {
        let mut g = Gzip::default();
        for src in [&b""[..], b"a", b"abcd", b"abcdabcdabc", b"abcdabcdabcd", &[0xff; 300], &[0; 100_000]] {
            round_trip(&mut g, src);
        }
        // Every byte value (9-bit literals above 143), every match length up to the longest.
        let mut s: Vec<u8> = (0..=255).collect();
        for l in 3..=300 {
            s.extend_from_within(s.len() - 256..s.len() - 256 + l.min(256));
        }
        round_trip(&mut g, &s);
        // A match exactly at deflate's largest distance, and one just past it (not taken).
        for gap in [WINDOW - 16, WINDOW - 15, WINDOW - 14] {
            let mut s = b"0123456789abcdef".to_vec();
            s.extend((0..gap).map(|i| (i * 7 % 251) as u8));
            s.extend_from_slice(b"0123456789abcdef");
            round_trip(&mut g, &s);
        }
    }

    #[test]
    fn compresses_repeated_events_as_zlib_level_1_does() {
        let mut src = Vec::new();
        for i in 0..20_000u32 {
            let line = format!(
                r#"{{"time":17953056{:02}.{:03},"host":"node-1","source":"shop/web-{}/nginx","event":{{"log":"10.0.{}.{} GET /api/v1/cart {} {}","stream":"stdout"}}}}"#,
                i % 60,
                i % 1000,
                i % 7,
                i % 13,
                i % 251,
                200 + i % 5,
                i.wrapping_mul(2_654_435_761) % 100_000
            );
            src.extend_from_slice(line.as_bytes());
        }
        let ours = round_trip(&mut Gzip::default(), &src).len();
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(1));
        std::io::Write::write_all(&mut z, &src).unwrap();
        let zlib = z.finish().unwrap().len();
        assert!(ours * 100 <= zlib * 105, "ours {ours} bytes, zlib level 1 {zlib}");
        assert!(ours * 4 < src.len(), "{ours} of {}", src.len());
    }

    /// A piece of generated input: bytes, or a copy of `len` bytes from `back + 1` bytes ago.
    #[derive(Debug, Clone)]
    enum Piece {
        Bytes(Vec<u8>),
        Copy { back: usize, len: usize },
    }

    fn piece() -> impl proptest::strategy::Strategy<Value = Piece> {
        use proptest::prelude::*;
        prop_oneof![
            proptest::collection::vec(proptest::sample::select(&b"ab{}\"\\ 0\xff"[..]), 0..40).prop_map(Piece::Bytes),
            proptest::collection::vec(any::<u8>(), 0..200).prop_map(Piece::Bytes),
            (0usize..40_000, 1usize..300).prop_map(|(back, len)| Piece::Copy { back, len }),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, failure_persistence: None, ..Default::default() })]

        /// Bytes of a small alphabet, random bytes and copies of earlier stretches (matches of every
        /// length and distance, within deflate's window and past it) come back as they went in.
        #[test]
        fn round_trips(pieces in proptest::collection::vec(piece(), 0..120)) {
            let mut s: Vec<u8> = Vec::new();
            for p in pieces {
                match p {
                    Piece::Bytes(b) => s.extend(b),
                    Piece::Copy { back, len } if back < s.len() => {
                        let from = s.len() - back - 1;
                        for k in 0..len {
                            s.push(s[from + k]);
                        }
                    }
                    Piece::Copy { .. } => {}
                }
            }
            round_trip(&mut Gzip::default(), &s);
        }
    }
}
