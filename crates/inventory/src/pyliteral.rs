//! Values of `key=value` pairs on INI host lines. Ansible reads them as Python literals
//! (numbers, quoted strings, `True`/`False`/`None`, lists, tuples, dicts) and keeps the text
//! as a string when it is not one, so `ansible_port=2222` is an integer, `x=True` a boolean,
//! `x=true` the string "true" and `x=0644` the string "0644" (not valid Python 3).

use indexmap::IndexMap;
use minijinja::Value;

/// The value Ansible gives `text` on an INI host line.
pub fn host_value(text: &str) -> Value {
    parse(text).unwrap_or_else(|| Value::from(text))
}

/// `text` as a Python literal, or `None` when it is not exactly one.
pub fn parse(text: &str) -> Option<Value> {
    let mut p = P {
        s: text.as_bytes(),
        text,
        i: 0,
        depth: 0,
    };
    let v = p.value()?;
    p.ws();
    (p.i == p.s.len()).then_some(v)
}

struct P<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
    depth: usize,
}

impl P<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        self.ws();
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Option<Value> {
        self.depth += 1;
        if self.depth > 100 {
            return None;
        }
        self.ws();
        let v = match self.peek()? {
            b'[' => {
                self.i += 1;
                Value::from(self.items(b']')?)
            }
            b'(' => {
                self.i += 1;
                let (items, trailing_comma) = self.items_with_comma(b')')?;
                // `(1)` is just 1; `(1,)` and `(1, 2)` are tuples, which JSON shows as lists.
                if items.len() == 1 && !trailing_comma {
                    items.into_iter().next()?
                } else {
                    Value::from(items)
                }
            }
            b'{' => {
                self.i += 1;
                self.dict()?
            }
            // Bytes and unicode prefixes: Ansible coerces bytes to text.
            b'b' | b'B' | b'u' | b'U' if matches!(self.s.get(self.i + 1), Some(b'\'' | b'"')) => {
                self.i += 1;
                Value::from(self.string()?)
            }
            b'\'' | b'"' => {
                let mut out = self.string()?;
                // Adjacent literals concatenate, as in Python.
                loop {
                    self.ws();
                    match self.peek() {
                        Some(b'\'' | b'"') => out.push_str(&self.string()?),
                        _ => break,
                    }
                }
                Value::from(out)
            }
            _ => self.word()?,
        };
        self.depth -= 1;
        Some(v)
    }

    fn items(&mut self, close: u8) -> Option<Vec<Value>> {
        self.items_with_comma(close).map(|(v, _)| v)
    }

    fn items_with_comma(&mut self, close: u8) -> Option<(Vec<Value>, bool)> {
        let mut items = Vec::new();
        let mut trailing = false;
        loop {
            if self.eat(close) {
                return Some((items, trailing));
            }
            items.push(self.value()?);
            trailing = self.eat(b',');
            if !trailing {
                return self.eat(close).then_some((items, false));
            }
        }
    }

    fn dict(&mut self) -> Option<Value> {
        let mut map: IndexMap<Value, Value> = IndexMap::new();
        loop {
            if self.eat(b'}') {
                return Some(Value::from(map));
            }
            let key = self.value()?;
            if !self.eat(b':') {
                // A set: shown as a list, as Ansible's inventory shows it.
                if !map.is_empty() {
                    return None;
                }
                let mut items = vec![key];
                while self.eat(b',') {
                    if self.eat(b'}') {
                        return Some(Value::from(items));
                    }
                    items.push(self.value()?);
                }
                return self.eat(b'}').then(|| Value::from(items));
            }
            let value = self.value()?;
            map.insert(key, value);
            if !self.eat(b',') {
                return self.eat(b'}').then(|| Value::from(map));
            }
        }
    }

    fn string(&mut self) -> Option<String> {
        let quote = self.peek()?;
        self.i += 1;
        let mut out = String::new();
        let rest = &self.text[self.i..];
        let mut chars = rest.char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                c if c as u32 == u32::from(quote) => {
                    self.i += at + 1;
                    return Some(out);
                }
                '\n' => return None,
                '\\' => {
                    let (_, e) = chars.next()?;
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '0' => out.push('\0'),
                        '\\' | '\'' | '"' => out.push(e),
                        'x' | 'u' => {
                            let len = if e == 'x' { 2 } else { 4 };
                            let hex: String = chars.by_ref().take(len).map(|(_, c)| c).collect();
                            let code = u32::from_str_radix(&hex, 16).ok()?;
                            out.push(char::from_u32(code)?);
                        }
                        other => {
                            out.push('\\');
                            out.push(other);
                        }
                    }
                }
                c => out.push(c),
            }
        }
        None
    }

    fn word(&mut self) -> Option<Value> {
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || b"+-._".contains(&self.s[self.i]))
        {
            self.i += 1;
        }
        let word = &self.text[start..self.i];
        match word {
            "True" => Some(Value::from(true)),
            "False" => Some(Value::from(false)),
            "None" => Some(Value::from(())),
            // Python values JSON has no form for, as Ansible coerces them: the ellipsis and
            // complex numbers become their text, `set()` an empty list.
            "..." => Some(Value::from("...")),
            "set" if self.eat(b'(') => self.eat(b')').then(|| Value::from(Vec::<Value>::new())),
            _ if word.ends_with(['j', 'J']) && number(&word[..word.len() - 1]).is_some() => {
                Some(Value::from(word))
            }
            _ => number(word),
        }
    }
}

fn number(word: &str) -> Option<Value> {
    let (neg, body) = match word.as_bytes().first()? {
        b'-' => (true, &word[1..]),
        b'+' => (false, &word[1..]),
        _ => (false, word),
    };
    if body.is_empty() || body.starts_with(['-', '+']) || !underscores_ok(body) {
        return None;
    }
    let clean: String = body.chars().filter(|&c| c != '_').collect();
    let lower = clean.to_ascii_lowercase();
    let int = |digits: &str, radix: u32| -> Option<Value> {
        let n = i64::from_str_radix(digits, radix).ok()?;
        Some(Value::from(if neg { -n } else { n }))
    };
    if let Some(d) = lower.strip_prefix("0x") {
        return int(d, 16);
    }
    if let Some(d) = lower.strip_prefix("0o") {
        return int(d, 8);
    }
    if let Some(d) = lower.strip_prefix("0b") {
        return int(d, 2);
    }
    if lower.bytes().all(|b| b.is_ascii_digit()) {
        // Python 3 refuses leading zeros on non-zero decimals: `0644` is not a literal.
        if lower.len() > 1 && lower.starts_with('0') && lower.bytes().any(|b| b != b'0') {
            return None;
        }
        return int(&lower, 10);
    }
    let looks_float = lower
        .bytes()
        .all(|b| b.is_ascii_digit() || b".e+-".contains(&b))
        && lower.bytes().any(|b| b.is_ascii_digit())
        && !lower.starts_with('e');
    if looks_float {
        let f: f64 = lower.parse().ok()?;
        return Some(Value::from(if neg { -f } else { f }));
    }
    None
}

/// Python allows single underscores between digits only.
fn underscores_ok(s: &str) -> bool {
    let b = s.as_bytes();
    !s.starts_with('_')
        && !s.ends_with('_')
        && !b
            .windows(2)
            .any(|w| w[0] == b'_' && !(w[1].is_ascii_alphanumeric()) || w == b"__")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected_json: &str) {
        let got = serde_json::to_string(&host_value(input)).unwrap_or_default();
        assert_eq!(got, expected_json, "value of {input:?}");
    }

    #[test]
    fn python_literals() {
        check("2222", "2222");
        check("-5", "-5");
        check("1_000", "1000");
        check("0x1f", "31");
        check("0o17", "15");
        check("0644", "\"0644\"");
        check("00", "0");
        check("1.5", "1.5");
        check("1e3", "1000.0");
        check(".5", "0.5");
        check("True", "true");
        check("False", "false");
        check("None", "null");
        check("true", "\"true\"");
        check("yes", "\"yes\"");
        check("'quoted'", "\"quoted\"");
        check("\"a b\"", "\"a b\"");
        check("'a' \"b\"", "\"ab\"");
        check("'it\\'s'", "\"it's\"");
        check("[1, 'two', None]", "[1,\"two\",null]");
        check("(1,)", "[1]");
        check("(1)", "1");
        check("{'a': 1, 'b': [True]}", "{\"a\":1,\"b\":[true]}");
        // As ansible-core 2.19's inventory shows them: sets as lists, bytes as text, the
        // ellipsis and complex numbers as their text.
        check("{1, 2}", "[1,2]");
        check("set()", "[]");
        check("b'single'", "\"single\"");
        check(
            "[..., 1j, set(), {1, 2}, b'x']",
            "[\"...\",\"1j\",[],[1,2],\"x\"]",
        );
        check("{1: 2, 3}", "\"{1: 2, 3}\"");
        check("192.168.1.10", "\"192.168.1.10\"");
        check("/usr/bin/python3", "\"/usr/bin/python3\"");
        check("1__0", "\"1__0\"");
        check("[1, 2", "\"[1, 2\"");
        check("'unterminated", "\"'unterminated\"");
        check("inf", "\"inf\"");
        check("", "\"\"");
    }
}
