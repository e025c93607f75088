//! Host name ranges: `web[01:20].example.com`, `db-[a:f]`, `node[1:10:2]`.

/// Expands every `[start:end]` / `[start:end:step]` in `name` into the host names it stands
/// for, in order. Names without brackets expand to themselves. Numeric ranges keep the start's
/// zero padding (`[01:10]` gives `01` … `10`).
///
/// # Errors
/// A message saying what is wrong with the range (the caller positions it).
pub fn expand(name: &str) -> Result<Vec<String>, String> {
    let Some(open) = name.find('[') else {
        return Ok(vec![name.to_string()]);
    };
    let close = name[open..]
        .find(']')
        .map(|i| open + i)
        .ok_or_else(|| format!("unclosed range in host name {name:?}"))?;
    let (head, body, tail) = (&name[..open], &name[open + 1..close], &name[close + 1..]);
    let parts: Vec<&str> = body.split(':').collect();
    if parts.len() < 2 || parts.len() > 3 {
        return Err(format!(
            "invalid range [{body}] in {name:?}: expected [start:end] or [start:end:step]"
        ));
    }
    let (start, end) = (parts[0], parts[1]);
    let step: usize = match parts.get(2) {
        None | Some(&"") => 1,
        Some(s) => match s.parse() {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(format!(
                    "invalid range step {s:?} in {name:?}: expected a positive integer"
                ))
            }
        },
    };
    let items: Vec<String> = if is_alpha(start) && is_alpha(end) {
        let (a, b) = (first_char(start), first_char(end));
        if a > b {
            return Err(format!(
                "invalid range [{body}] in {name:?}: start is after end"
            ));
        }
        (a..=b).step_by(step).map(String::from).collect()
    } else if is_number(start) && is_number(end) {
        let (a, b): (u64, u64) = match (start.parse(), end.parse()) {
            (Ok(a), Ok(b)) => (a, b),
            _ => {
                return Err(format!(
                    "invalid range [{body}] in {name:?}: number too large"
                ))
            }
        };
        if a > b {
            return Err(format!(
                "invalid range [{body}] in {name:?}: start is after end"
            ));
        }
        if (b - a) / step as u64 > 1_000_000 {
            return Err(format!("range [{body}] in {name:?} is too large"));
        }
        let width = start.len();
        (a..=b)
            .step_by(step)
            .map(|n| format!("{n:0width$}"))
            .collect()
    } else {
        return Err(format!(
            "invalid range [{body}] in {name:?}: start and end must be both numbers or both single letters"
        ));
    };
    let rests = expand(tail)?;
    let mut out = Vec::with_capacity(items.len() * rests.len());
    for item in &items {
        for rest in &rests {
            out.push(format!("{head}{item}{rest}"));
        }
    }
    Ok(out)
}

fn is_alpha(s: &str) -> bool {
    s.chars().count() == 1 && s.chars().all(|c| c.is_ascii_alphabetic())
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn first_char(s: &str) -> char {
    s.chars().next().unwrap_or('a')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let got = match expand(input) {
            Ok(names) => names.join(" "),
            Err(e) => format!("error: {e}"),
        };
        assert!(
            got == expected || (expected.starts_with("error: ") && got.starts_with(expected)),
            "{input}: got {got:?}, expected {expected:?}"
        );
    }

    #[test]
    fn ranges() {
        check("plain.example.com", "plain.example.com");
        check("web[1:3].x", "web1.x web2.x web3.x");
        check("web[01:03]", "web01 web02 web03");
        check("web[08:11]", "web08 web09 web10 web11");
        check("db-[a:c]", "db-a db-b db-c");
        check("n[1:10:3]", "n1 n4 n7 n10");
        check("r[1:2]-[a:b]", "r1-a r1-b r2-a r2-b");
        check(
            "web[3:1]",
            "error: invalid range [3:1] in \"web[3:1]\": start is after end",
        );
        check("web[1:b]", "error: invalid range [1:b]");
        check("web[1]", "error: invalid range [1]");
        check("web[1:3", "error: unclosed range");
        check("web[1:3:0]", "error: invalid range step");
    }
}
