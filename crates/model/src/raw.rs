//! A typed view of a randomuser.me response that borrows its strings from the body: what
//! [`crate::parse_page`] validates.
//!
//! A page is read in two steps. [`read_body`] reads the body into a [`Body`], which keeps each
//! `results[]` entry as its raw JSON text; [`read_entry`] reads one entry into a [`RawUser`].
//! Strings borrow from the body unless they hold escapes. Nothing is built for the values the
//! producer does not read; a rejected entry alone is read again into a `serde_json::Value`,
//! for its dead letter.
//!
//! The views follow a `serde_json::Value`'s rules, which is how the parser read pages before,
//! so a page reads the same: a repeated key keeps its last value, a key the producer does not
//! read is still decoded (a number beyond `f64` or a lone surrogate escape anywhere makes the
//! body not JSON), and a value of an unexpected type is kept as its [`JsonKind`] for the
//! rejection. `#[derive(Deserialize)]` would fail on a repeated key and skip unread values
//! without decoding them, hence [`json_object!`] and [`Read`]. (One difference is left:
//! serde_json's nesting limit, 128, now counts from each entry rather than from the body, so
//! an entry nested 126 or 127 levels deep is read where the whole page was not JSON.)

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Number, Value};

use crate::reject::JsonKind;
use crate::validate::Scalar;

/// A response body: an object's fields, or the kind of whatever else it is.
pub(crate) enum Body<'a> {
    /// The body is an object.
    Object(Response<'a>),
    /// The body is another JSON value.
    Other(JsonKind),
}

/// The fields of a response object that the parser reads.
#[derive(Default)]
pub(crate) struct Response<'a> {
    /// `error`, unless absent or `null`.
    pub(crate) error: Option<Value>,
    /// `info`, unless absent or `null`.
    pub(crate) info: Option<Value>,
    /// `results`, unless absent.
    pub(crate) results: Option<Results<'a>>,
    /// Every key of the object, sorted as a `Value`'s keys are: for the message when `results`
    /// is missing.
    pub(crate) keys: BTreeSet<Cow<'a, str>>,
}

/// The `results` member.
pub(crate) enum Results<'a> {
    /// An array: each entry as its raw JSON text.
    Entries(Vec<&'a RawValue>),
    /// Another JSON value.
    Other(JsonKind),
}

/// A JSON value where an object is expected: the object, or the kind of what came instead.
pub(crate) enum Shape<T> {
    /// An object.
    Object(T),
    /// Another JSON value.
    Other(JsonKind),
}

/// Reads a response body. A body that is not UTF-8 is read by `from_slice`, whose error says
/// where; the others by `from_str`, which leaves out the UTF-8 checks `from_utf8` has just made
/// once for the whole body.
pub(crate) fn read_body(body: &[u8]) -> Result<Body<'_>, serde_json::Error> {
    match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(body),
    }
}

/// Reads one `results[]` entry. An error (a value that cannot be decoded) makes the page not
/// JSON, as it did when the whole body was one `Value`.
pub(crate) fn read_entry(entry: &RawValue) -> Result<Shape<RawUser<'_>>, serde_json::Error> {
    serde_json::from_str(entry.get())
}

/// Declares the view of a JSON object, read with a `Value`'s rules: each field is `None` when
/// absent or `null`, a repeated key keeps its last value, and other keys are decoded and
/// dropped. Each field's key is its name.
macro_rules! json_object {
    ($(#[$doc:meta])* struct $name:ident<'a> { $($field:ident: $ty:ty,)* }) => {
        $(#[$doc])*
        #[derive(Default)]
        pub(crate) struct $name<'a> {
            $(pub(crate) $field: Option<$ty>,)*
        }

        impl<'de: 'a, 'a> Deserialize<'de> for $name<'a> {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Fields<'a>(PhantomData<$name<'a>>);

                impl<'de: 'a, 'a> Visitor<'de> for Fields<'a> {
                    type Value = $name<'a>;

                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a JSON object")
                    }

                    fn visit_map<M: MapAccess<'de>>(
                        self,
                        mut map: M,
                    ) -> Result<Self::Value, M::Error> {
                        let mut object = $name::default();
                        while let Some(Key(key)) = map.next_key()? {
                            match &*key {
                                $(stringify!($field) => object.$field = map.next_value()?,)*
                                _ => {
                                    map.next_value::<Discard>()?;
                                }
                            }
                        }
                        Ok(object)
                    }
                }

                deserializer.deserialize_map(Fields(PhantomData))
            }
        }
    };
}

json_object! {
    /// One `results[]` entry: the fields the producer reads.
    struct RawUser<'a> {
        gender: Scalar<'a>,
        name: Shape<RawName<'a>>,
        location: Shape<RawLocation<'a>>,
        email: Scalar<'a>,
        login: Shape<RawLogin<'a>>,
        dob: Shape<RawDate<'a>>,
        registered: Shape<RawDate<'a>>,
        phone: Scalar<'a>,
        cell: Scalar<'a>,
        id: Shape<RawId<'a>>,
        picture: Shape<RawPicture<'a>>,
        nat: Scalar<'a>,
    }
}

json_object! {
    /// `name`.
    struct RawName<'a> {
        title: Scalar<'a>,
        first: Scalar<'a>,
        last: Scalar<'a>,
    }
}

json_object! {
    /// `location`.
    struct RawLocation<'a> {
        street: Shape<RawStreet<'a>>,
        city: Scalar<'a>,
        state: Scalar<'a>,
        country: Scalar<'a>,
        postcode: Scalar<'a>,
        coordinates: Shape<RawCoordinates<'a>>,
        timezone: Shape<RawTimezone<'a>>,
    }
}

json_object! {
    /// `location.street`.
    struct RawStreet<'a> {
        number: Scalar<'a>,
        name: Scalar<'a>,
    }
}

json_object! {
    /// `location.coordinates`.
    struct RawCoordinates<'a> {
        latitude: Scalar<'a>,
        longitude: Scalar<'a>,
    }
}

json_object! {
    /// `location.timezone`.
    struct RawTimezone<'a> {
        offset: Scalar<'a>,
        description: Scalar<'a>,
    }
}

json_object! {
    /// `login`, without its secrets: they are decoded like any unread key and dropped.
    struct RawLogin<'a> {
        uuid: Scalar<'a>,
        username: Scalar<'a>,
    }
}

json_object! {
    /// `dob` and `registered`.
    struct RawDate<'a> {
        date: Scalar<'a>,
    }
}

json_object! {
    /// `id`: the national id.
    struct RawId<'a> {
        name: Scalar<'a>,
        value: Scalar<'a>,
    }
}

json_object! {
    /// `picture`.
    struct RawPicture<'a> {
        large: Scalar<'a>,
    }
}

/// How a view reads a JSON value of any kind. A view overrides the kinds it takes; every
/// other value is decoded in full, as a `Value` would be (so what a `Value` cannot hold fails
/// here too), and becomes [`Read::other`] of its kind.
trait Read<'de>: Sized {
    /// A value of kind `kind`, which the view does not take.
    fn other(kind: JsonKind) -> Self;

    /// A number.
    fn number(_: Number) -> Self {
        Self::other(JsonKind::Number)
    }

    /// A string, unescaped.
    fn string(_: Cow<'de, str>) -> Self {
        Self::other(JsonKind::String)
    }

    /// An array.
    fn array<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<Discard>()?.is_some() {}
        Ok(Self::other(JsonKind::Array))
    }

    /// An object.
    fn object<M: MapAccess<'de>>(mut map: M) -> Result<Self, M::Error> {
        while map.next_entry::<Discard, Discard>()?.is_some() {}
        Ok(Self::other(JsonKind::Object))
    }
}

/// The visitor of a [`Read`]: it sorts the value by kind.
struct ByKind<R>(PhantomData<R>);

/// Reads any JSON value with `R`.
fn read_any<'de, R: Read<'de>, D: Deserializer<'de>>(deserializer: D) -> Result<R, D::Error> {
    deserializer.deserialize_any(ByKind::<R>(PhantomData))
}

impl<'de, R: Read<'de>> Visitor<'de> for ByKind<R> {
    type Value = R;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<R, E> {
        Ok(R::other(JsonKind::Bool))
    }

    fn visit_i64<E>(self, v: i64) -> Result<R, E> {
        Ok(R::number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<R, E> {
        Ok(R::number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<R, E> {
        // As a `Value` does: a float that is not finite is `null`.
        Ok(Number::from_f64(v).map_or_else(|| R::other(JsonKind::Null), R::number))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<R, E> {
        Ok(R::string(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<R, E> {
        Ok(R::string(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<R, E> {
        Ok(R::string(Cow::Owned(v)))
    }

    fn visit_unit<E>(self) -> Result<R, E> {
        Ok(R::other(JsonKind::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<R, A::Error> {
        R::array(seq)
    }

    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<R, M::Error> {
        R::object(map)
    }
}

/// Any JSON value, decoded and dropped.
struct Discard;

impl Read<'_> for Discard {
    fn other(_: JsonKind) -> Self {
        Self
    }
}

impl<'de> Deserialize<'de> for Discard {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        read_any(deserializer)
    }
}

/// An object key, borrowed unless it holds escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text<'a>(PhantomData<Key<'a>>);

        impl<'de: 'a, 'a> Visitor<'de> for Text<'a> {
            type Value = Key<'a>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'a>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Key<'a>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E>(self, v: String) -> Result<Key<'a>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }

        deserializer.deserialize_str(Text(PhantomData))
    }
}

impl<'de: 'a, 'a> Read<'de> for Scalar<'a> {
    fn other(kind: JsonKind) -> Self {
        Self::Other(kind)
    }

    fn number(n: Number) -> Self {
        Self::Number(n)
    }

    fn string(s: Cow<'de, str>) -> Self {
        Self::String(s)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        read_any(deserializer)
    }
}

impl<'de, T: Deserialize<'de>> Read<'de> for Shape<T> {
    fn other(kind: JsonKind) -> Self {
        Self::Other(kind)
    }

    fn object<M: MapAccess<'de>>(map: M) -> Result<Self, M::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(Self::Object)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Shape<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        read_any(deserializer)
    }
}

impl<'de: 'a, 'a> Read<'de> for Results<'a> {
    fn other(kind: JsonKind) -> Self {
        Self::Other(kind)
    }

    fn array<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut entries = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(entry) = seq.next_element()? {
            entries.push(entry);
        }
        Ok(Self::Entries(entries))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Results<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        read_any(deserializer)
    }
}

impl<'de: 'a, 'a> Read<'de> for Body<'a> {
    fn other(kind: JsonKind) -> Self {
        Self::Other(kind)
    }

    fn object<M: MapAccess<'de>>(mut map: M) -> Result<Self, M::Error> {
        let mut response = Response::default();
        while let Some(Key(key)) = map.next_key()? {
            match &*key {
                "error" => response.error = map.next_value()?,
                "info" => response.info = map.next_value()?,
                "results" => response.results = Some(map.next_value()?),
                _ => {
                    map.next_value::<Discard>()?;
                }
            }
            response.keys.insert(key);
        }
        Ok(Self::Object(response))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Body<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        read_any(deserializer)
    }
}
