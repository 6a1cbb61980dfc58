//! Users to Confluent-framed Avro, with a schema id obtained once from the registry.
//!
//! The generic path (`userstream_model::encode_avro`) builds an `apache_avro::Value` tree and
//! validates it against the schema for every record; at 100k users/s that is most of the CPU
//! budget. [`FrameEncoder`] writes the same bytes directly instead, and checks at
//! construction that it still agrees with the generic path (on users with every optional
//! field set and with none); if the schema has moved on, it falls back to the generic path.

use chrono::{DateTime, Utc};
use userstream_model::{encode_avro, AvroError, User};
use userstream_registry::{encode_framed, SchemaId, Serializer, HEADER_LEN, MAGIC_BYTE};

/// Encodes users as `[0][schema id][Avro]` with no I/O: the same bytes as
/// [`Serializer::serialize`], built from its schema id (or any id, in tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameEncoder {
    schema_id: SchemaId,
    direct: bool,
}

impl FrameEncoder {
    /// An encoder writing `schema_id` in every frame.
    pub fn new(schema_id: SchemaId) -> Self {
        let direct = direct_matches_generic();
        if !direct {
            tracing::warn!(
                "the direct Avro writer disagrees with the User schema; using the generic encoder"
            );
        }
        Self { schema_id, direct }
    }

    /// The encoder of a registered serializer.
    pub fn from_serializer(serializer: &Serializer) -> Self {
        Self::new(serializer.schema_id())
    }

    /// The schema id written.
    pub fn schema_id(&self) -> SchemaId {
        self.schema_id
    }

    /// Whether the direct writer is in use (false: the generic encoder).
    pub fn is_direct(&self) -> bool {
        self.direct
    }

    /// `user` as framed Avro.
    pub fn encode(&self, user: &User) -> Result<Vec<u8>, AvroError> {
        if self.direct {
            let mut out = Vec::with_capacity(640);
            out.push(MAGIC_BYTE);
            out.extend_from_slice(&self.schema_id.0.to_be_bytes());
            debug_assert_eq!(out.len(), HEADER_LEN);
            user.write_avro(&mut out);
            Ok(out)
        } else {
            Ok(encode_framed(self.schema_id.0, &encode_avro(user)?))
        }
    }
}

/// Users covering every branch: all optional fields set (with non-ASCII text, negative
/// numbers and large values), and none set.
fn probes() -> [User; 2] {
    let at = |ms: i64| DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
    let some = |s: &str| Some(s.to_owned());
    let full = User {
        id: uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
        title: some("Mr"),
        first_name: some("آرمین"),
        last_name: some("Кузнецов"),
        gender: some("male"),
        street_number: Some(-70_000),
        street_name: some("Valwood Pkwy"),
        city: some("Billings"),
        state: some("Michigan"),
        country: some("United States"),
        postcode: some("63104"),
        display_address: some("8929 Valwood Pkwy, Billings, Michigan 63104, United States"),
        latitude: Some(-69.8246),
        longitude: Some(134.8719),
        timezone_offset: some("+5:30"),
        timezone_description: some("Bombay, Calcutta, Madras, New Delhi"),
        email: some("a@example.com"),
        username: "bigbird123".to_owned(),
        dob: Some(at(-2_000_000_000_000)),
        registered: Some(at(1_400_000_000_123)),
        phone: some("(272) 790-0888"),
        cell: some("(489) 330-2385"),
        id_name: some("SSN"),
        id_value: some("405-88-3636"),
        picture_url: some("https://randomuser.me/api/portraits/men/75.jpg"),
        nationality: some("US"),
        produced_at: at(1_764_000_000_000),
        source_url: "http://127.0.0.1:8765/api/?results=5000&seed=s&page=1".repeat(3),
        source_seed: "userstream".to_owned(),
        source_page: 10_000,
        source_index: 4_999,
    };
    let empty = User {
        id: uuid::Uuid::nil(),
        title: None,
        first_name: None,
        last_name: None,
        gender: None,
        street_number: None,
        street_name: None,
        city: None,
        state: None,
        country: None,
        postcode: None,
        display_address: None,
        latitude: None,
        longitude: None,
        timezone_offset: None,
        timezone_description: None,
        email: None,
        username: String::new(),
        dob: None,
        registered: None,
        phone: None,
        cell: None,
        id_name: None,
        id_value: None,
        picture_url: None,
        nationality: None,
        produced_at: at(0),
        source_url: String::new(),
        source_seed: String::new(),
        source_page: 0,
        source_index: 0,
    };
    [full, empty]
}

fn direct_matches_generic() -> bool {
    probes().iter().all(|user| {
        let mut direct = Vec::new();
        user.write_avro(&mut direct);
        encode_avro(user).is_ok_and(|generic| generic == direct)
    })
}

#[cfg(test)]
mod tests {
    use userstream_model::{decode_avro, parse_page, SourcePosition};
    use userstream_users_api::PageRequest;

    use super::*;

    #[test]
    fn direct_writer_is_byte_identical_to_the_generic_encoder() {
        assert!(direct_matches_generic());
        let encoder = FrameEncoder::new(SchemaId(42));
        assert!(encoder.is_direct());
        let mut body = Vec::new();
        userstream_users_api::write_page(
            &PageRequest {
                seed: "encode-test".to_owned(),
                page: 3,
                results: 2000,
                ..PageRequest::default()
            },
            &mut body,
        );
        let position = SourcePosition {
            url: "http://x/api/".to_owned(),
            seed: "encode-test".to_owned(),
            page: 3,
        };
        let page = parse_page(&body, &position, Utc::now()).expect("page");
        for user in page.users().chain(probes().iter()) {
            let framed = encoder.encode(user).expect("encode");
            let generic = encode_framed(42, &encode_avro(user).expect("generic"));
            assert_eq!(framed, generic, "{user:?}");
            assert_eq!(&decode_avro(&framed[HEADER_LEN..]).expect("decode"), user);
        }
    }

    /// Per-stage CPU cost on one core: `cargo test --release -p userstream-ingest --lib
    /// stage_costs -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing report, run in release"]
    fn stage_costs() {
        use std::time::Instant;
        let n = 50_000u32;
        let request = PageRequest {
            seed: "timing".to_owned(),
            page: 1,
            results: 5000,
            ..PageRequest::default()
        };
        let position = SourcePosition {
            url: "http://127.0.0.1:8765/api/?results=5000&seed=timing&page=1".to_owned(),
            seed: "timing".to_owned(),
            page: 1,
        };
        let (mut generate, mut parse, mut generic, mut direct) = (0.0, 0.0, 0.0, 0.0);
        let encoder = FrameEncoder::new(SchemaId(1));
        let mut bytes = 0usize;
        for page in 1..=n / 5000 {
            let request = PageRequest {
                page,
                ..request.clone()
            };
            let t = Instant::now();
            let mut body = Vec::new();
            userstream_users_api::write_page(&request, &mut body);
            generate += t.elapsed().as_secs_f64();
            bytes += body.len();
            let t = Instant::now();
            let parsed = parse_page(&body, &position, Utc::now()).expect("page");
            parse += t.elapsed().as_secs_f64();
            let t = Instant::now();
            for user in parsed.users() {
                std::hint::black_box(encode_framed(1, &encode_avro(user).expect("encode")));
            }
            generic += t.elapsed().as_secs_f64();
            let t = Instant::now();
            for user in parsed.users() {
                std::hint::black_box(encoder.encode(user).expect("encode"));
            }
            direct += t.elapsed().as_secs_f64();
        }
        let per = |s: f64| s / f64::from(n) * 1e6;
        eprintln!(
            "per user: generate {:.2} us ({} B JSON), parse {:.2} us, encode generic {:.2} us, encode direct {:.2} us",
            per(generate),
            bytes / n as usize,
            per(parse),
            per(generic),
            per(direct)
        );
    }
}
