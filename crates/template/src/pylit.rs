//! Python literals (what `ast.literal_eval` accepts, minus bytes, sets and complex numbers):
//! strings with Python's escapes, numbers, `True`/`False`/`None`, lists, tuples and dicts.
//! `#jinja2:` override values and the `python_literal_eval` filter are written this way.

use indexmap::IndexMap;
use minijinja::value::Value;

/// Parses `src` as one Python literal; the error says what was found where.
pub(crate) fn parse(src: &str) -> Result<Value, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut p = Parser { chars, pos: 0 };
    p.skip_ws();
    let v = p.value()?;
    p.skip_ws();
    if p.pos < p.chars.len() {
        return Err(format!(
            "unexpected {:?} at position {} of {src:?}",
            p.chars[p.pos], p.pos
        ));
    }
    Ok(v)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        let Some(c) = self.peek() else {
            return Err("a value was expected, found the end".into());
        };
        match c {
            '\'' | '"' => {
                // Adjacent literals concatenate, as in Python ('a' 'b').
                let mut s = self.string()?;
                loop {
                    let save = self.pos;
                    self.skip_ws();
                    if matches!(self.peek(), Some('\'' | '"')) {
                        s.push_str(&self.string()?);
                    } else {
                        self.pos = save;
                        break;
                    }
                }
                Ok(Value::from(s))
            }
            '[' => self.sequence(']').map(Value::from),
            '(' => self.sequence(')').map(Value::from),
            '{' => self.dict(),
            '-' | '+' | '.' | '0'..='9' => self.number(),
            _ if c.is_alphabetic() || c == '_' => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    self.pos += 1;
                }
                let word: String = self.chars[start..self.pos].iter().collect();
                match word.as_str() {
                    "True" => Ok(Value::from(true)),
                    "False" => Ok(Value::from(false)),
                    "None" => Ok(Value::from(())),
                    _ => Err(format!("{word:?} is not a literal")),
                }
            }
            _ => Err(format!("unexpected {c:?} at position {}", self.pos)),
        }
    }

    fn sequence(&mut self, close: char) -> Result<Vec<Value>, String> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok(items);
            }
            items.push(self.value()?);
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(c) if c == close => {}
                _ => {
                    return Err(format!(
                        "{close:?} or ',' expected at position {}",
                        self.pos
                    ))
                }
            }
        }
    }

    fn dict(&mut self) -> Result<Value, String> {
        self.pos += 1;
        let mut map: IndexMap<Value, Value> = IndexMap::new();
        loop {
            self.skip_ws();
            if self.peek() == Some('}') {
                self.pos += 1;
                return Ok(Value::from(map));
            }
            let key = self.value()?;
            self.skip_ws();
            if self.peek() != Some(':') {
                return Err(format!("':' expected at position {}", self.pos));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value()?;
            map.insert(key, value);
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some('}') => {}
                _ => return Err(format!("'}}' or ',' expected at position {}", self.pos)),
            }
        }
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.pos;
        if matches!(self.peek(), Some('-' | '+')) {
            self.pos += 1;
        }
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_'))
            || (matches!(self.peek(), Some('-' | '+'))
                && matches!(self.chars.get(self.pos - 1), Some('e' | 'E')))
        {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos]
            .iter()
            .filter(|c| **c != '_')
            .collect();
        let (neg, digits) = match text.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, text.strip_prefix('+').unwrap_or(&text)),
        };
        let radix = |prefix: [&str; 2], r: u32| {
            prefix
                .iter()
                .find_map(|p| digits.strip_prefix(p))
                .and_then(|d| i64::from_str_radix(d, r).ok())
        };
        let int = radix(["0x", "0X"], 16)
            .or_else(|| radix(["0o", "0O"], 8))
            .or_else(|| radix(["0b", "0B"], 2))
            .or_else(|| {
                // Python refuses leading zeros on decimal integers (other than 0 itself).
                let ok = digits.chars().all(|c| c.is_ascii_digit())
                    && (!digits.starts_with('0') || digits.chars().all(|c| c == '0'));
                ok.then(|| digits.parse::<i64>().ok()).flatten()
            });
        if let Some(i) = int {
            return Ok(Value::from(if neg { -i } else { i }));
        }
        let is_float = !digits.chars().all(|c| c.is_ascii_digit())
            && digits
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
            && digits.chars().any(|c| c.is_ascii_digit());
        match digits.parse::<f64>() {
            Ok(f) if is_float => Ok(Value::from(if neg { -f } else { f })),
            _ => Err(format!("{text:?} is not a number")),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let quote = self.chars[self.pos];
        let triple = self.chars.get(self.pos..self.pos + 3) == Some(&[quote; 3][..]);
        self.pos += if triple { 3 } else { 1 };
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err("unterminated string".into());
            };
            if c == quote {
                if !triple {
                    self.pos += 1;
                    return Ok(out);
                }
                if self.chars.get(self.pos..self.pos + 3) == Some(&[quote; 3][..]) {
                    self.pos += 3;
                    return Ok(out);
                }
            }
            if c == '\n' && !triple {
                return Err("end of line inside a string".into());
            }
            self.pos += 1;
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some(e) = self.peek() else {
                return Err("unterminated string".into());
            };
            self.pos += 1;
            match e {
                '\n' => {}
                '\\' | '\'' | '"' => out.push(e),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'a' => out.push('\u{7}'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'v' => out.push('\u{b}'),
                '0'..='7' => {
                    let mut code = e.to_digit(8).unwrap_or(0);
                    for _ in 0..2 {
                        match self.peek().and_then(|c| c.to_digit(8)) {
                            Some(d) => {
                                code = code * 8 + d;
                                self.pos += 1;
                            }
                            None => break,
                        }
                    }
                    out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                }
                'x' | 'u' | 'U' => {
                    let n = match e {
                        'x' => 2,
                        'u' => 4,
                        _ => 8,
                    };
                    let hex: String = self
                        .chars
                        .get(self.pos..self.pos + n)
                        .map_or_else(String::new, |s| s.iter().collect());
                    let ch = u32::from_str_radix(&hex, 16)
                        .ok()
                        .filter(|_| hex.len() == n)
                        .and_then(char::from_u32)
                        .ok_or_else(|| format!("bad \\{e} escape"))?;
                    self.pos += n;
                    out.push(ch);
                }
                // Python keeps unknown escapes as written.
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn json(src: &str) -> String {
        serde_json::to_string(&parse(src).unwrap()).unwrap()
    }

    #[test]
    fn literals() {
        assert_eq!(json("True"), "true");
        assert_eq!(json(" None "), "null");
        assert_eq!(json("'a\\nb'"), r#""a\nb""#);
        assert_eq!(json(r#"":""#), r#"":""#);
        assert_eq!(json("'a' \"b\""), r#""ab""#);
        assert_eq!(json("-12"), "-12");
        assert_eq!(json("0x1f"), "31");
        assert_eq!(json("1.5e3"), "1500.0");
        assert_eq!(
            json("{'a': [1, (2, 3)], 'b': {'c': None},}"),
            r#"{"a":[1,[2,3]],"b":{"c":null}}"#
        );
        assert_eq!(json("'\\x41\\u00e9\\101'"), r#""Aé A""#.replace(' ', ""));
        assert!(parse("true").is_err());
        assert!(parse("012").is_err());
        assert!(parse("'open").is_err());
        assert!(parse("[1, 2").is_err());
        assert!(parse("1 2").is_err());
    }
}
