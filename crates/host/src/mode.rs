//! `chmod`-style modes: octal strings and symbolic clauses (`u=rwx,g=rx,o=`, `u+x,g-w`, `a+X`).
//!
//! A clause without a `who` applies to everyone and ignores the umask, as Ansible does (GNU chmod
//! would mask it): a playbook's result must not depend on the helper's umask.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid mode {spec:?}: {reason}")]
pub struct ModeError {
    pub spec: String,
    pub reason: &'static str,
}

const USER: u32 = 0o4700;
const GROUP: u32 = 0o2070;
const OTHER: u32 = 0o1007;

/// Resolves `spec` against the `current` permission bits of a file (`is_dir` matters for `X`).
/// Returns the new bits (`& 0o7777`).
pub fn resolve_mode(spec: &str, current: u32, is_dir: bool) -> Result<u32, ModeError> {
    let err = |reason| ModeError {
        spec: spec.to_string(),
        reason,
    };
    let spec_trim = spec.trim();
    if spec_trim.is_empty() {
        return Err(err("empty mode"));
    }
    if spec_trim.bytes().all(|b| b.is_ascii_digit()) {
        if spec_trim.len() > 5 || spec_trim.bytes().any(|b| b > b'7') {
            return Err(err("octal modes have at most four digits 0-7"));
        }
        let value = u32::from_str_radix(spec_trim, 8).map_err(|_| err("not an octal number"))?;
        if value > 0o7777 {
            return Err(err("octal mode out of range"));
        }
        return Ok(value);
    }

    let mut mode = current & 0o7777;
    for clause in spec_trim.split(',') {
        let bytes = clause.as_bytes();
        let mut i = 0;
        let mut who = 0u32;
        // As Ansible reads it, `a` stands alone: `ao=r` is refused, not taken as `a`.
        let who_end = bytes
            .iter()
            .position(|b| !matches!(b, b'u' | b'g' | b'o' | b'a'))
            .unwrap_or(bytes.len());
        if who_end > 1 && bytes[..who_end].contains(&b'a') {
            return Err(err("`a` cannot be combined with u, g or o"));
        }
        while i < bytes.len() && matches!(bytes[i], b'u' | b'g' | b'o' | b'a') {
            who |= match bytes[i] {
                b'u' => USER,
                b'g' => GROUP,
                b'o' => OTHER,
                _ => USER | GROUP | OTHER,
            };
            i += 1;
        }
        if who == 0 {
            who = USER | GROUP | OTHER;
        }
        if i >= bytes.len() {
            return Err(err("a clause needs an operator (+, - or =)"));
        }
        while i < bytes.len() {
            let op = bytes[i];
            if !matches!(op, b'+' | b'-' | b'=') {
                return Err(err("expected +, - or ="));
            }
            i += 1;
            // Bits as they were when this operation starts: `X` and `g=u` look at them.
            let before = mode;
            let mut perm = 0u32;
            if i < bytes.len() && matches!(bytes[i], b'u' | b'g' | b'o') {
                let src = match bytes[i] {
                    b'u' => (before >> 6) & 7,
                    b'g' => (before >> 3) & 7,
                    _ => before & 7,
                };
                perm = src | (src << 3) | (src << 6);
                i += 1;
            } else {
                while i < bytes.len() && matches!(bytes[i], b'r' | b'w' | b'x' | b'X' | b's' | b't')
                {
                    perm |= match bytes[i] {
                        b'r' => 0o444,
                        b'w' => 0o222,
                        b'x' => 0o111,
                        b'X' if is_dir || before & 0o111 != 0 => 0o111,
                        b'X' => 0,
                        b's' => 0o6000,
                        _ => 0o1000,
                    };
                    i += 1;
                }
            }
            let bits = perm & who;
            match op {
                b'+' => mode |= bits,
                b'-' => mode &= !bits,
                _ => mode = (mode & !who) | bits,
            }
        }
    }
    Ok(mode & 0o7777)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(spec: &str, current: u32, is_dir: bool, expected: Option<u32>) {
        let got = resolve_mode(spec, current, is_dir).ok();
        assert_eq!(
            got, expected,
            "{spec} on {current:o} (dir={is_dir}): got {got:?}"
        );
    }

    #[test]
    fn octal() {
        check("0644", 0, false, Some(0o644));
        check("644", 0o777, false, Some(0o644));
        check("2755", 0, true, Some(0o2755));
        check("01777", 0, true, Some(0o1777));
        check("0", 0o777, false, Some(0));
        check("0888", 0, false, None);
        check("77777", 0, false, None);
    }

    #[test]
    fn symbolic() {
        check("u=rwx,g=rx,o=", 0o777, false, Some(0o750));
        check("u+x,g-w", 0o664, false, Some(0o744));
        check("a+r", 0o200, false, Some(0o644));
        check("+x", 0o644, false, Some(0o755));
        check("go-rwx", 0o755, false, Some(0o700));
        check("u=rw,go=r", 0, false, Some(0o644));
        check("o=", 0o777, false, Some(0o770));
        check("ug=rw", 0o7, false, Some(0o667));
        check("g=u", 0o740, false, Some(0o770));
        check("o=g", 0o750, false, Some(0o755));
        check("u+s", 0o755, false, Some(0o4755));
        check("g+s", 0o755, true, Some(0o2755));
        check("+t", 0o777, true, Some(0o1777));
        check("u=rwx,u-w", 0, false, Some(0o500));
        check("u+r-w", 0o200, false, Some(0o400));
    }

    #[test]
    fn capital_x_only_for_dirs_or_already_executable() {
        check("a+X", 0o644, false, Some(0o644));
        check("a+X", 0o644, true, Some(0o755));
        check("a+X", 0o744, false, Some(0o755));
        check("u=rwX,go=rX", 0o600, true, Some(0o755));
        check("u=rwX,go=rX", 0o600, false, Some(0o644));
    }

    #[test]
    fn rejects_garbage() {
        check("", 0, false, None);
        check("u", 0, false, None);
        check("u*x", 0, false, None);
        check("rwx", 0, false, None);
        check("u=rwq", 0, false, None);
        check("u+x,", 0, false, None);
        // Ansible's own refusals (its unarchive target): `a` only alone, letters only rwxXst
        // and ugo.
        check("ao=r", 0, false, None);
        check("oa=r", 0, false, None);
        check("u=foo", 0, false, None);
        check("foo=r", 0, false, None);
        check("a=r", 0, false, Some(0o444));
    }
}
