//! Drawing one user from `(seed, nats, gender, page, index)`.
//!
//! Every user has its own RNG, seeded from a hash of the stream key (seed, nationality filter,
//! gender filter) and its position `(page, index)`. So user `i` of page `p` is the same
//! whatever `results`, `inc`/`exc` or `noinfo` were, and any user can be re-derived alone.
//! All fields are always drawn, in a fixed order, whatever is served.
//!
//! The draw order and the tables in `names.rs`, `places.rs` and `common.rs` are part of the
//! output contract: changing them changes every user for every seed.

use crate::common::{self, Timezone};
use crate::date::{DOB_MAX_MS, DOB_MIN_MS, REFERENCE_MS, REGISTERED_MIN_MS};
use crate::formats::{self, IdInputs, Postcode};
use crate::names;
use crate::places;
use crate::rng::{hash_bytes, low62, mix64, permute62, Rng};
use crate::small::Small;
use userstream_model::request::PageRequest;
use userstream_model::request::{Gender, Nat};

/// A generated user, before serialisation. Hashes and the e-mail are derived when written.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) nat: Nat,
    pub(crate) gender: Gender,
    pub(crate) title: &'static str,
    pub(crate) first: &'static str,
    pub(crate) last: &'static str,
    pub(crate) street_number: u32,
    pub(crate) street: &'static str,
    pub(crate) city: &'static str,
    pub(crate) state: &'static str,
    pub(crate) postcode: Postcode,
    /// Ten-thousandths of a degree.
    pub(crate) latitude: i32,
    /// Ten-thousandths of a degree.
    pub(crate) longitude: i32,
    pub(crate) timezone: Timezone,
    pub(crate) uuid: [u8; 16],
    pub(crate) username: (&'static str, &'static str, u16),
    pub(crate) password: &'static str,
    pub(crate) salt: [u8; 8],
    pub(crate) dob_ms: i64,
    pub(crate) registered_ms: i64,
    pub(crate) phone: Small,
    pub(crate) cell: Small,
    pub(crate) id_name: &'static str,
    pub(crate) id_value: Option<Small>,
    pub(crate) picture: u8,
}

/// The per-request part of user derivation.
#[derive(Debug)]
pub(crate) struct Stream {
    key: u64,
    nats: Vec<Nat>,
    gender: Option<Gender>,
}

impl Stream {
    pub(crate) fn new(req: &PageRequest) -> Self {
        let (seed, nats) = req.effective();
        let nat_mask = nats.iter().fold(0u64, |m, n| m | 1 << n.index());
        let gender_code = match req.gender {
            None => 0u64,
            Some(Gender::Male) => 1,
            Some(Gender::Female) => 2,
        };
        let filters = nat_mask | gender_code << 32;
        Self {
            key: mix64(hash_bytes(seed.as_bytes()) ^ mix64(filters)),
            nats,
            gender: req.gender,
        }
    }

    /// User `index` (0-based) of `page`.
    pub(crate) fn user(&self, page: u32, index: u32) -> User {
        let position = (u64::from(page) << 32) | u64::from(index);
        let mut rng = Rng::new(mix64(self.key ^ mix64(position)));

        let nat = if self.nats.is_empty() {
            rng.pick(&Nat::ALL)
        } else {
            rng.pick(&self.nats)
        };
        let gender = match self.gender {
            Some(g) => g,
            None if rng.below(2) == 0 => Gender::Male,
            None => Gender::Female,
        };
        let male = gender == Gender::Male;

        let nat_names = names::names(nat);
        let set = match &nat_names.alt {
            Some((per_mille, alt)) if rng.per_mille(*per_mille) => alt,
            _ => &nat_names.main,
        };
        let first = rng.pick(if male { set.male } else { set.female });
        let last = rng.pick(set.last);
        let title = match (nat, male) {
            (Nat::Ch, true) => "Monsieur",
            (Nat::Ch, false) => rng.pick(common::CH_FEMALE_TITLES),
            (_, true) => "Mr",
            (_, false) => rng.pick(common::FEMALE_TITLES),
        };

        let place = places::places(nat);
        let street_number = rng.range(1, 9999) as u32;
        let street = rng.pick(place.streets);
        let city = rng.pick(place.cities);
        let state = rng.pick(place.states);
        let postcode = formats::postcode(nat, &mut rng);
        let latitude = rng.range(-900_000, 900_000) as i32;
        let longitude = rng.range(-1_800_000, 1_800_000) as i32;
        let timezone = rng.pick(common::TIMEZONES);

        let uuid = self.uuid(position, rng.next_u64());
        let username = (
            rng.pick(common::USERNAME_ADJECTIVES),
            rng.pick(common::USERNAME_ANIMALS),
            rng.range(100, 999) as u16,
        );
        let password = rng.pick(common::PASSWORDS);
        let mut salt = [0u8; 8];
        for b in &mut salt {
            *b = rng.pick(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ1234567890");
        }

        let dob_ms = rng.range(DOB_MIN_MS, DOB_MAX_MS);
        let registered_ms = rng.range(REGISTERED_MIN_MS, REFERENCE_MS);

        let (phone, cell) = formats::phones(nat, &mut rng);
        let (id_name, id_value) = formats::id(
            nat,
            &mut rng,
            &IdInputs {
                gender,
                dob_ms,
                last,
            },
        );
        let picture = rng.range(0, if male { 99 } else { 96 }) as u8;

        User {
            nat,
            gender,
            title,
            first,
            last,
            street_number,
            street,
            city,
            state,
            postcode,
            latitude,
            longitude,
            timezone,
            uuid,
            username,
            password,
            salt,
            dob_ms,
            registered_ms,
            phone,
            cell,
            id_name,
            id_value,
            picture,
        }
    }

    /// A version-4 UUID whose low 62 bits are a bijection of `(page, index)` under this stream,
    /// so no two positions of one seed share a UUID; the high bits are random.
    fn uuid(&self, position: u64, random: u64) -> [u8; 16] {
        let high = (random & !0xF000) | 0x4000;
        let low = (0b10 << 62) | permute62(position ^ low62(self.key));
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&high.to_be_bytes());
        out[8..].copy_from_slice(&low.to_be_bytes());
        out
    }
}
