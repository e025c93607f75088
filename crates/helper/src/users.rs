//! User and group names, read from `/etc/passwd` and `/etc/group` directly so a statically
//! linked helper needs no NSS. (Users only in LDAP/sssd show as numeric ids, as with `ls -n`.)

use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passwd {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub gecos: String,
    pub home: String,
    pub shell: String,
}

/// The account database, read once per request that needs it (accounts may change between
/// tasks, e.g. after a `user` task, so nothing is cached across requests).
#[derive(Debug, Default, Clone)]
pub struct Accounts {
    pub users: Vec<Passwd>,
    /// (name, gid)
    pub groups: Vec<(String, u32)>,
}

impl Accounts {
    pub fn load() -> Accounts {
        Accounts::load_from(Path::new("/etc/passwd"), Path::new("/etc/group"))
    }

    pub fn load_from(passwd: &Path, group: &Path) -> Accounts {
        let users = std::fs::read_to_string(passwd)
            .map(|s| parse_passwd(&s))
            .unwrap_or_default();
        let groups = std::fs::read_to_string(group)
            .map(|s| parse_group(&s))
            .unwrap_or_default();
        Accounts { users, groups }
    }

    pub fn user_name(&self, uid: u32) -> String {
        self.users
            .iter()
            .find(|u| u.uid == uid)
            .map(|u| u.name.clone())
            .unwrap_or_default()
    }

    pub fn group_name(&self, gid: u32) -> String {
        self.groups
            .iter()
            .find(|g| g.1 == gid)
            .map(|g| g.0.clone())
            .unwrap_or_default()
    }

    pub fn user(&self, uid: u32) -> Option<&Passwd> {
        self.users.iter().find(|u| u.uid == uid)
    }

    /// A user name or numeric uid to a uid.
    pub fn resolve_user(&self, spec: &str) -> Option<u32> {
        self.users
            .iter()
            .find(|u| u.name == spec)
            .map(|u| u.uid)
            .or_else(|| spec.parse().ok())
    }

    /// A group name or numeric gid to a gid.
    pub fn resolve_group(&self, spec: &str) -> Option<u32> {
        self.groups
            .iter()
            .find(|g| g.0 == spec)
            .map(|g| g.1)
            .or_else(|| spec.parse().ok())
    }
}

fn parse_passwd(text: &str) -> Vec<Passwd> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 7 {
                return None;
            }
            Some(Passwd {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                gecos: f[4].to_string(),
                home: f[5].to_string(),
                shell: f[6].to_string(),
            })
        })
        .collect()
}

fn parse_group(text: &str) -> Vec<(String, u32)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let mut f = line.split(':');
            let name = f.next()?;
            let _pw = f.next()?;
            let gid = f.next()?.parse().ok()?;
            Some((name.to_string(), gid))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_resolves() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("passwd");
        let g = dir.path().join("group");
        std::fs::write(
            &p,
            "root:x:0:0:root:/root:/bin/bash\n# comment\nbroken line\nalice:x:1000:1000:Alice A,,,:/home/alice:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(&g, "root:x:0:\nstaff:x:50:alice\nbad:x:zz:\n").unwrap();
        let a = Accounts::load_from(&p, &g);
        assert_eq!(a.users.len(), 2);
        assert_eq!(a.user_name(1000), "alice");
        assert_eq!(a.user_name(7), "");
        assert_eq!(a.group_name(50), "staff");
        assert_eq!(a.resolve_user("alice"), Some(1000));
        assert_eq!(a.resolve_user("1234"), Some(1234));
        assert_eq!(a.resolve_user("nobody-here"), None);
        assert_eq!(a.resolve_group("staff"), Some(50));
        assert_eq!(a.user(1000).unwrap().home, "/home/alice");
    }
}
