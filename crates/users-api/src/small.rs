//! A fixed-capacity inline string for short generated values (phones, ids, postcodes), so a
//! user costs no heap allocation.

use crate::rng::Rng;

const CAPACITY: usize = 32;

/// Up to 32 bytes of UTF-8, stored inline. Pushes that would overflow are dropped whole;
/// every format written here is far shorter.
#[derive(Clone, Copy)]
pub(crate) struct Small {
    buf: [u8; CAPACITY],
    len: u8,
}

impl Small {
    pub(crate) fn new() -> Self {
        Self {
            buf: [0; CAPACITY],
            len: 0,
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or("")
    }

    pub(crate) fn push_str(&mut self, s: &str) -> &mut Self {
        let start = usize::from(self.len);
        let end = start + s.len();
        if end <= CAPACITY {
            self.buf[start..end].copy_from_slice(s.as_bytes());
            self.len = end as u8;
        }
        self
    }

    pub(crate) fn push_char(&mut self, c: char) -> &mut Self {
        let mut tmp = [0u8; 4];
        self.push_str(c.encode_utf8(&mut tmp))
    }

    fn push_byte(&mut self, b: u8) {
        if usize::from(self.len) < CAPACITY && b.is_ascii() {
            self.buf[usize::from(self.len)] = b;
            self.len += 1;
        }
    }

    /// `value` in decimal, zero-padded to `width`.
    pub(crate) fn push_num(&mut self, value: u64, width: usize) -> &mut Self {
        let mut digits = [0u8; 20];
        let mut v = value;
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for _ in (digits.len() - i)..width {
            self.push_byte(b'0');
        }
        for &d in &digits[i..] {
            self.push_byte(d);
        }
        self
    }

    /// `n` random decimal digits (the real API's `random(3, n)`).
    pub(crate) fn digits(&mut self, rng: &mut Rng, n: usize) -> &mut Self {
        self.chars_from(rng, b"0123456789", n)
    }

    /// `n` random upper-case letters (`random(4, n)`).
    pub(crate) fn letters(&mut self, rng: &mut Rng, n: usize) -> &mut Self {
        self.chars_from(rng, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", n)
    }

    /// `n` random characters from an ASCII `alphabet`.
    pub(crate) fn chars_from(&mut self, rng: &mut Rng, alphabet: &[u8], n: usize) -> &mut Self {
        for _ in 0..n {
            self.push_byte(rng.pick(alphabet));
        }
        self
    }
}

impl std::fmt::Debug for Small {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_caps() {
        let mut s = Small::new();
        s.push_str("ab").push_num(7, 3).push_char('Ö');
        assert_eq!(s.as_str(), "ab007Ö");
        s.push_str(&"x".repeat(40));
        assert_eq!(s.as_str(), "ab007Ö");
    }
}
