//! The Confluent wire format: `[0x00][schema id: u32 big-endian][Avro binary datum]`.

/// First byte of every framed message.
pub const MAGIC_BYTE: u8 = 0;

/// Length of the header: magic byte plus the 4-byte schema id.
pub const HEADER_LEN: usize = 5;

/// A framed message that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Fewer bytes than the header.
    #[error("framed message is {len} bytes, shorter than the {HEADER_LEN}-byte Confluent header")]
    TooShort {
        /// The message length.
        len: usize,
    },
    /// The first byte is not [`MAGIC_BYTE`]: not Confluent-framed (plain Avro, JSON, ...).
    #[error("framed message starts with byte {found:#04x}, not the Confluent magic byte 0x00")]
    BadMagic {
        /// The first byte found.
        found: u8,
    },
}

/// Frames an Avro datum with its schema id.
pub fn encode_framed(schema_id: u32, avro: &[u8]) -> Vec<u8> {
    let mut framed = Vec::with_capacity(HEADER_LEN + avro.len());
    framed.push(MAGIC_BYTE);
    framed.extend_from_slice(&schema_id.to_be_bytes());
    framed.extend_from_slice(avro);
    framed
}

/// Splits a framed message into its schema id and Avro datum.
pub fn decode_framed(framed: &[u8]) -> Result<(u32, &[u8]), FrameError> {
    let Some((header, avro)) = framed.split_first_chunk::<HEADER_LEN>() else {
        return Err(FrameError::TooShort { len: framed.len() });
    };
    let [magic, id @ ..] = *header;
    if magic != MAGIC_BYTE {
        return Err(FrameError::BadMagic { found: magic });
    }
    Ok((u32::from_be_bytes(id), avro))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_exact_bytes() {
        assert_eq!(
            encode_framed(1, &[0xAA, 0xBB]),
            [0x00, 0x00, 0x00, 0x00, 0x01, 0xAA, 0xBB]
        );
        assert_eq!(
            encode_framed(0x0102_0304, &[]),
            [0x00, 0x01, 0x02, 0x03, 0x04]
        );
        assert_eq!(
            encode_framed(u32::MAX, &[7]),
            [0x00, 0xFF, 0xFF, 0xFF, 0xFF, 7]
        );
    }

    #[test]
    fn decodes_exact_bytes() {
        let bytes = [0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 0x0A];
        assert_eq!(decode_framed(&bytes), Ok((256, &[0x02, 0x0A][..])));
        assert_eq!(
            decode_framed(&[0, 0, 0, 0, 42]),
            Ok((42, &[][..])),
            "an empty datum is still a frame"
        );
    }

    #[test]
    fn round_trips() {
        let payload = b"avro bytes";
        for id in [0, 1, 255, 256, 65_536, 16_777_216, u32::MAX] {
            let framed = encode_framed(id, payload);
            assert_eq!(decode_framed(&framed), Ok((id, &payload[..])));
        }
    }

    #[test]
    fn rejects_short_and_unframed() {
        assert_eq!(decode_framed(&[]), Err(FrameError::TooShort { len: 0 }));
        assert_eq!(
            decode_framed(&[0, 0, 0, 1]),
            Err(FrameError::TooShort { len: 4 })
        );
        let err = decode_framed(b"{\"id\":1}").expect_err("json is not framed");
        assert_eq!(err, FrameError::BadMagic { found: b'{' });
        assert_eq!(
            err.to_string(),
            "framed message starts with byte 0x7b, not the Confluent magic byte 0x00"
        );
        assert_eq!(
            FrameError::TooShort { len: 3 }.to_string(),
            "framed message is 3 bytes, shorter than the 5-byte Confluent header"
        );
    }
}
