//! Per-nationality formats of postcodes, phone numbers and national ids, after the real API's
//! `inject` scripts — including their quirks:
//! - postcode is an int for most nationalities and a string for GB, CA, NL, IE and NO (NO keeps
//!   its leading zeros); AU and CH ints have 3-4 digits; about 1 in 1000 int postcodes is
//!   negative (consumers must not assume a positive five-digit number);
//! - `id` is `{"name":"","value":null}` for IR, NZ, TR and UA;
//! - CA and UA phone numbers contain letters (`"B62 K84-3012"`);
//! - FI ids read `NaNNA123undefined` (the real generator formats an invalid date);
//! - DK/DE/FR ids embed JavaScript's `getYear()` (2001 -> `101`), FR a 0-based month.

use crate::date::DateTime;
use crate::rng::Rng;
use crate::small::Small;
use userstream_model::request::{Gender, Nat};

/// `location.postcode`: a JSON number or a JSON string, depending on the nationality.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Postcode {
    Int(i64),
    Text(Small),
}

pub(crate) fn postcode(nat: Nat, rng: &mut Rng) -> Postcode {
    let int = |rng: &mut Rng, lo: i64, hi: i64| {
        let value = rng.range(lo, hi);
        if rng.per_mille(1) {
            Postcode::Int(-value)
        } else {
            Postcode::Int(value)
        }
    };
    match nat {
        Nat::Au => int(rng, 200, 9999),
        Nat::Ch => int(rng, 1000, 9999),
        Nat::Gb => Postcode::Text(gb_postcode(rng)),
        Nat::Ca => {
            let mut s = Small::new();
            s.letters(rng, 1)
                .digits(rng, 1)
                .letters(rng, 1)
                .push_str(" ");
            s.digits(rng, 1).letters(rng, 1).digits(rng, 1);
            Postcode::Text(s)
        }
        Nat::Nl => {
            let mut s = Small::new();
            s.push_num(rng.range(1000, 9999) as u64, 4)
                .push_str(" ")
                .letters(rng, 2);
            Postcode::Text(s)
        }
        Nat::Ie => {
            const ROUTING: &[&str] = &[
                "A94", "D02", "D04", "D06", "D08", "D15", "D24", "T12", "T23", "H91", "V94", "X91",
                "F92", "R95", "W23", "Y35", "P31", "N37", "E91", "K78",
            ];
            let mut s = Small::new();
            s.push_str(rng.pick(ROUTING)).push_str(" ");
            s.chars_from(rng, b"ACDEFHKNPRTVWXY0123456789", 4);
            Postcode::Text(s)
        }
        Nat::No => {
            let mut s = Small::new();
            s.push_num(rng.range(1, 9991) as u64, 4);
            Postcode::Text(s)
        }
        _ => int(rng, 10000, 99999),
    }
}

fn gb_postcode(rng: &mut Rng) -> Small {
    const INWARD: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";
    let mut s = Small::new();
    match rng.below(6) {
        0 => s.letters(rng, 1).digits(rng, 1),
        1 => s.letters(rng, 2).digits(rng, 1),
        2 => s.letters(rng, 1).digits(rng, 2),
        3 => s.letters(rng, 2).digits(rng, 2),
        4 => s.letters(rng, 2).digits(rng, 1).letters(rng, 1),
        _ => s.letters(rng, 1).digits(rng, 1).letters(rng, 1),
    };
    s.push_str(" ").digits(rng, 1).chars_from(rng, INWARD, 2);
    s
}

/// `(phone, cell)`.
pub(crate) fn phones(nat: Nat, rng: &mut Rng) -> (Small, Small) {
    let phone_number = phone(nat, rng, false);
    let cell = phone(nat, rng, true);
    (phone_number, cell)
}

fn phone(nat: Nat, rng: &mut Rng, cell: bool) -> Small {
    let mut s = Small::new();
    match (nat, cell) {
        (Nat::Au, false) => {
            s.push_str("0")
                .digits(rng, 1)
                .push_str("-")
                .digits(rng, 4)
                .push_str("-");
            s.digits(rng, 4);
        }
        (Nat::Au, true) => {
            s.push_str("04")
                .digits(rng, 2)
                .push_str("-")
                .digits(rng, 3)
                .push_str("-");
            s.digits(rng, 3);
        }
        (Nat::Br, _) => {
            s.push_str("(")
                .digits(rng, 2)
                .push_str(") ")
                .digits(rng, 4)
                .push_str("-");
            s.digits(rng, 4);
        }
        (Nat::Ca, _) | (Nat::Ua, _) => ca_or_ua_phone(&mut s, rng, nat),
        (Nat::Ch, _) => {
            const PREFIX: &[&str] = &["075", "076", "077", "078", "079"];
            s.push_str(rng.pick(PREFIX))
                .push_str(" ")
                .digits(rng, 3)
                .push_str(" ");
            s.digits(rng, 2).push_str(" ").digits(rng, 2);
        }
        (Nat::De, false) => {
            s.push_str("0").digits(rng, 3).push_str("-").digits(rng, 7);
        }
        (Nat::De, true) => {
            s.push_str("017")
                .digits(rng, 1)
                .push_str("-")
                .digits(rng, 7);
        }
        (Nat::Dk, _) => {
            s.digits(rng, 8);
        }
        (Nat::Es, _) => {
            s.push_str(if cell { "6" } else { "9" })
                .digits(rng, 2)
                .push_str("-");
            s.digits(rng, 3).push_str("-").digits(rng, 3);
        }
        (Nat::Fi, false) => {
            s.push_str("0")
                .push_num(rng.range(2, 9) as u64, 1)
                .push_str("-");
            s.digits(rng, 3).push_str("-").digits(rng, 3);
        }
        (Nat::Fi, true) => {
            s.push_str("04")
                .digits(rng, 1)
                .push_str("-")
                .digits(rng, 3)
                .push_str("-");
            s.digits(rng, 2).push_str("-").digits(rng, 2);
        }
        (Nat::Fr, _) => fr_phone(&mut s, rng, cell),
        (Nat::Gb, false) => gb_phone(&mut s, rng),
        (Nat::Gb, true) => {
            s.push_str("07").digits(rng, 3).push_str(" ").digits(rng, 6);
        }
        (Nat::Ie, false) => {
            s.push_str("0")
                .push_num(rng.range(1, 7) as u64, 1)
                .push_str("1-");
            s.digits(rng, 3).push_str("-").digits(rng, 4);
        }
        (Nat::Ie, true) => {
            s.push_str("081-")
                .digits(rng, 3)
                .push_str("-")
                .digits(rng, 4);
        }
        (Nat::In, _) => {
            s.push_num(rng.range(7, 9) as u64, 1).digits(rng, 9);
        }
        (Nat::Ir, false) => {
            s.push_str("0").digits(rng, 2).push_str("-").digits(rng, 8);
        }
        (Nat::Ir, true) => {
            s.push_str("09")
                .digits(rng, 2)
                .push_str("-")
                .digits(rng, 3)
                .push_str("-");
            s.digits(rng, 4);
        }
        (Nat::Mx, _) => {
            s.push_str("(6")
                .digits(rng, 2)
                .push_str(") ")
                .digits(rng, 3)
                .push_str(" ");
            s.digits(rng, 4);
        }
        (Nat::Nl, _) | (Nat::Nz, _) | (Nat::Tr, _) => {
            s.push_str("(")
                .digits(rng, 3)
                .push_str(")-")
                .digits(rng, 3)
                .push_str("-");
            s.digits(rng, 4);
        }
        (Nat::No, false) => {
            s.push_num(rng.pick(&[2u64, 3, 5, 6, 7, 8]), 1)
                .digits(rng, 7);
        }
        (Nat::No, true) => {
            s.push_num(rng.pick(&[4u64, 9]), 1).digits(rng, 7);
        }
        (Nat::Rs, false) => {
            s.push_str("0")
                .push_num(rng.range(1, 3) as u64, 1)
                .digits(rng, 1);
            s.push_str("-").digits(rng, 4).push_str("-").digits(rng, 3);
        }
        (Nat::Rs, true) => {
            s.push_str("06")
                .digits(rng, 1)
                .push_str("-")
                .digits(rng, 4)
                .push_str("-");
            s.digits(rng, 3);
        }
        (Nat::Us, _) => us_phone(&mut s, rng),
    }
    s
}

/// Canada's and Ukraine's numbers share their shape after the area part.
fn ca_or_ua_phone(s: &mut Small, rng: &mut Rng, nat: Nat) {
    if nat == Nat::Ua {
        const PROVIDERS: &[&str] = &["66", "67", "68", "96", "97", "98", "99"];
        s.push_str("(0")
            .push_str(rng.pick(PROVIDERS))
            .push_str(") ");
        s.letters(rng, 1).digits(rng, 2);
    } else {
        s.letters(rng, 1).digits(rng, 2).push_str(" ");
        s.letters(rng, 1).digits(rng, 2);
    }
    s.push_str("-").digits(rng, 4);
}

fn fr_phone(s: &mut Small, rng: &mut Rng, cell: bool) {
    if cell {
        s.push_str("06");
    } else {
        s.push_str("0").push_num(rng.range(1, 5) as u64, 1);
    }
    for _ in 0..4 {
        s.push_str("-").digits(rng, 2);
    }
}

fn us_phone(s: &mut Small, rng: &mut Rng) {
    const AREA: &[u8] = b"23456789";
    s.push_str("(")
        .chars_from(rng, AREA, 1)
        .digits(rng, 2)
        .push_str(") ");
    s.chars_from(rng, AREA, 1)
        .digits(rng, 2)
        .push_str("-")
        .digits(rng, 4);
}

fn gb_phone(s: &mut Small, rng: &mut Rng) {
    const SIX_DIGIT_AREAS: &[&str] = &[
        "013873", "015242", "015394", "015395", "015396", "016973", "016974", "016977", "017683",
        "017684", "017687", "019467",
    ];
    match rng.below(6) {
        0 => {
            s.push_str("01").digits(rng, 3).push_str(" ").digits(rng, 5);
        }
        1 => {
            s.push_str("01").digits(rng, 3).push_str(" ").digits(rng, 6);
        }
        2 => {
            s.push_str("011")
                .digits(rng, 1)
                .push_str(" ")
                .digits(rng, 3)
                .push_str(" ");
            s.digits(rng, 4);
        }
        3 => {
            s.push_str("01")
                .digits(rng, 1)
                .push_str("1 ")
                .digits(rng, 3)
                .push_str(" ");
            s.digits(rng, 4);
        }
        4 => {
            s.push_str(rng.pick(SIX_DIGIT_AREAS))
                .push_str(" ")
                .digits(rng, 5);
        }
        _ => {
            s.push_str("02")
                .digits(rng, 1)
                .push_str(" ")
                .digits(rng, 4)
                .push_str(" ");
            s.digits(rng, 4);
        }
    }
}

/// What national ids are computed from.
pub(crate) struct IdInputs<'a> {
    pub(crate) gender: Gender,
    pub(crate) dob_ms: i64,
    pub(crate) last: &'a str,
}

/// `(id.name, id.value)`; a `None` value serialises as `null`.
pub(crate) fn id(nat: Nat, rng: &mut Rng, who: &IdInputs<'_>) -> (&'static str, Option<Small>) {
    let male = who.gender == Gender::Male;
    let dob = DateTime::from_ms(who.dob_ms);
    let mut s = Small::new();
    let name = match nat {
        Nat::Ir | Nat::Nz | Nat::Tr | Nat::Ua => return ("", None),
        Nat::Au => {
            s.digits(rng, 9);
            "TFN"
        }
        Nat::Br => {
            s.digits(rng, 3)
                .push_str(".")
                .digits(rng, 3)
                .push_str(".")
                .digits(rng, 3);
            s.push_str("-").digits(rng, 2);
            "CPF"
        }
        Nat::Ca => {
            s = sin(rng);
            "SIN"
        }
        Nat::Ch => {
            s.push_str("756.")
                .digits(rng, 4)
                .push_str(".")
                .digits(rng, 4)
                .push_str(".");
            s.digits(rng, 2);
            "AVS"
        }
        Nat::De => {
            const PENSION: &[&str] = &[
                "02", "03", "04", "08", "09", "10", "11", "12", "13", "14", "15", "16", "17", "18",
                "19", "20", "21", "23", "24", "25", "26", "28", "29", "38", "39", "40", "42", "43",
                "44", "45", "46", "47", "48", "49", "50", "51", "52", "53", "54", "55", "56", "57",
                "58", "59", "60", "61", "62", "63", "64", "65", "66", "67", "68", "69", "70", "71",
                "72", "73", "74", "75", "76", "77", "78", "79", "80", "81", "82", "89",
            ];
            s.push_str(rng.pick(PENSION)).push_str(" ");
            s.push_num(u64::from(dob.day), 2)
                .push_num(u64::from(dob.month), 2);
            s.push_num(dob.js_year().unsigned_abs(), 1).push_str(" ");
            if let Some(initial) = who.last.chars().next() {
                s.push_char(initial);
            }
            let serial = if male {
                rng.range(0, 49)
            } else {
                rng.range(50, 99)
            };
            s.push_str(" ").push_num(serial as u64, 2).digits(rng, 1);
            "SVNR"
        }
        Nat::Dk => {
            s.push_num(u64::from(dob.day), 2)
                .push_num(u64::from(dob.month), 2);
            s.push_num(dob.js_year().unsigned_abs(), 1)
                .push_str("-")
                .digits(rng, 4);
            "CPR"
        }
        Nat::Es => {
            s.digits(rng, 8).push_str("-").letters(rng, 1);
            "DNI"
        }
        Nat::Fi => {
            let parity: &[u8] = if male { b"13579" } else { b"02468" };
            s.push_str("NaNNA")
                .digits(rng, 2)
                .chars_from(rng, parity, 1);
            s.push_str("undefined");
            "HETU"
        }
        Nat::Fr => {
            s = insee(rng, male, &dob);
            "INSEE"
        }
        Nat::Gb => {
            s.chars_from(rng, b"ABCEGHJKLMNOPRSTWXYZ", 1);
            s.chars_from(rng, b"ABCEGHJKLMNPRSTWXYZ", 1);
            for _ in 0..3 {
                s.push_str(" ").digits(rng, 2);
            }
            s.push_str(" ").letters(rng, 1);
            "NINO"
        }
        Nat::Ie => {
            s.digits(rng, 7).push_str("T");
            "PPS"
        }
        Nat::In => {
            s.digits(rng, 12);
            "UIDAI"
        }
        Nat::Mx => {
            s.digits(rng, 2)
                .push_str(" ")
                .digits(rng, 2)
                .push_str(" ")
                .digits(rng, 2);
            s.push_str(" ").digits(rng, 4).push_str(" ").digits(rng, 1);
            "NSS"
        }
        Nat::Nl => {
            s.digits(rng, 8);
            "BSN"
        }
        Nat::No => {
            s = fodselsnummer(rng, male, &dob);
            "FN"
        }
        Nat::Rs => {
            s.digits(rng, 9);
            "SID"
        }
        Nat::Us => {
            s = ssn(rng);
            "SSN"
        }
    };
    (name, Some(s))
}

/// Canadian SIN: eight random digits and a Luhn check digit.
fn sin(rng: &mut Rng) -> Small {
    let mut digits = [0u64; 8];
    let mut sum = 0;
    for (i, d) in digits.iter_mut().enumerate() {
        *d = rng.below(10);
        let weighted = if i % 2 == 1 { *d * 2 } else { *d };
        sum += weighted / 10 + weighted % 10;
    }
    let mut s = Small::new();
    for d in digits {
        s.push_num(d, 1);
    }
    s.push_num((10 - sum % 10) % 10, 1);
    s
}

/// French INSEE: `{sex}{getYear()}{0-based month}{8 digits} {97 - n % 97}` (real API quirks).
fn insee(rng: &mut Rng, male: bool, dob: &DateTime) -> Small {
    let mut s = Small::new();
    s.push_num(if male { 1 } else { 2 }, 1);
    s.push_num(dob.js_year().unsigned_abs(), 1);
    s.push_num(u64::from(dob.month - 1), 2);
    s.digits(rng, 8);
    let number: u64 = s.as_str().parse().unwrap_or(0);
    s.push_str(" ").push_num(97 - number % 97, 2);
    s
}

/// Norwegian fødselsnummer: ddmmyy, individual number (range by century, parity by sex) and
/// two mod-11 check digits; draws again when a check digit would be 10, or the last one 0.
fn fodselsnummer(rng: &mut Rng, male: bool, dob: &DateTime) -> Small {
    const K1: [u64; 9] = [3, 7, 6, 1, 8, 9, 4, 5, 2];
    const K2: [u64; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
    let check = |weights: &[u64], digits: &[u64]| {
        let sum: u64 = weights.iter().zip(digits).map(|(w, d)| w * d).sum();
        match sum % 11 {
            0 => 0,
            r => 11 - r,
        }
    };
    let yy = dob.year.rem_euclid(100) as u64;
    let mut last = Small::new();
    for _ in 0..64 {
        let mut individual = if dob.year >= 2000 {
            999 - rng.range(0, 499)
        } else {
            499 - rng.range(0, 499)
        };
        if (individual % 2 == 1) != male {
            individual -= 1;
        }
        if individual < 0 {
            continue;
        }
        let mut s = Small::new();
        s.push_num(u64::from(dob.day), 2)
            .push_num(u64::from(dob.month), 2);
        s.push_num(yy, 2).push_num(individual as u64, 3);
        let mut digits = [0u64; 11];
        for (d, b) in digits.iter_mut().zip(s.as_str().bytes()) {
            *d = u64::from(b - b'0');
        }
        let k1 = check(&K1, &digits[..9]);
        if k1 == 10 {
            continue;
        }
        digits[9] = k1;
        let k2 = check(&K2, &digits[..10]);
        s.push_num(k1, 1).push_num(k2 % 10, 1);
        last = s;
        if k2 != 10 && k2 != 0 {
            return s;
        }
    }
    last
}

/// US SSN avoiding the ranges never issued (000, 666 and 9xx areas, group 00, serial 0000)
/// and the two famous invalid numbers.
fn ssn(rng: &mut Rng) -> Small {
    loop {
        let area = rng.below(1000);
        let group = rng.below(100);
        let serial = rng.below(10_000);
        let famous =
            (area, group, serial) == (219, 9, 9999) || (area, group, serial) == (78, 5, 1120);
        if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 || famous {
            continue;
        }
        let mut s = Small::new();
        s.push_num(area, 3)
            .push_str("-")
            .push_num(group, 2)
            .push_str("-");
        s.push_num(serial, 4);
        return s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sin_passes_luhn() {
        let mut rng = Rng::new(1);
        for _ in 0..1000 {
            let s = sin(&mut rng);
            let digits: Vec<u32> = s.as_str().chars().filter_map(|c| c.to_digit(10)).collect();
            assert_eq!(digits.len(), 9);
            let sum: u32 = digits
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let w = if i % 2 == 1 { d * 2 } else { *d };
                    w / 10 + w % 10
                })
                .sum();
            assert_eq!(sum % 10, 0, "{s:?}");
        }
    }

    #[test]
    fn fodselsnummer_is_valid() {
        let mut rng = Rng::new(2);
        for i in 0..500 {
            let dob = DateTime::from_ms(-700_000_000_000 + i * 3_000_000_000);
            let male = i % 2 == 0;
            let s = fodselsnummer(&mut rng, male, &dob);
            let d: Vec<u64> = s.as_str().bytes().map(|b| u64::from(b - b'0')).collect();
            assert_eq!(d.len(), 11, "{s:?}");
            assert_eq!(d[8] % 2 == 1, male, "{s:?}");
            let w1 = [3, 7, 6, 1, 8, 9, 4, 5, 2, 1];
            let w2 = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2, 1];
            let s1: u64 = w1.iter().zip(&d).map(|(w, x)| w * x).sum();
            let s2: u64 = w2.iter().zip(&d).map(|(w, x)| w * x).sum();
            assert_eq!((s1 % 11, s2 % 11), (0, 0), "{s:?}");
        }
    }

    #[test]
    fn insee_check_digits() {
        let mut rng = Rng::new(3);
        let dob = DateTime::from_ms(0);
        let s = insee(&mut rng, true, &dob);
        let (number, key) = s.as_str().split_at(13);
        assert!(number.starts_with("17000"), "{s:?}");
        let n: u64 = number.parse().unwrap_or(0);
        let k: u64 = key.trim().parse().unwrap_or(0);
        assert_eq!((n + k) % 97, 0);
    }

    #[test]
    fn ssn_is_issuable() {
        let mut rng = Rng::new(4);
        for _ in 0..1000 {
            let s = ssn(&mut rng);
            let area: u32 = s.as_str()[..3].parse().unwrap_or(0);
            assert!(area != 0 && area != 666 && area < 900, "{s:?}");
        }
    }
}
