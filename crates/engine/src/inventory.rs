//! What the engine needs from an inventory, as a trait, so the engine does not depend on how
//! inventories are parsed (and tests and the simulated benchmarks can supply their own).

use drover_playbook::Vars;

pub trait InventorySource: Send + Sync {
    /// Hosts matching an Ansible host pattern, in inventory order.
    fn hosts_matching(&self, pattern: &str) -> Result<Vec<String>, String>;
    /// The inventory-level variables of a host (inventory file, group_vars, host_vars), merged
    /// in Ansible's precedence order; untemplated.
    fn host_vars(&self, host: &str) -> Vars;
    /// Every group and its hosts (`groups`), including `all` and `ungrouped`.
    fn groups(&self) -> indexmap::IndexMap<String, Vec<String>>;
    /// The groups a host belongs to, excluding `all` (`group_names`), sorted.
    fn group_names(&self, host: &str) -> Vec<String>;
    /// Records a run-time group membership (`add_host`, `group_by`): `host` joins `group`, so
    /// the group's variables (`group_vars/`) apply to it from now on.
    fn add_membership(&self, _host: &str, _group: &str) {}
    /// Reads the inventory sources again (`meta: refresh_inventory`), keeping run-time
    /// memberships.
    fn refresh(&self) -> Result<(), String> {
        Ok(())
    }
    /// Restricts a play's hosts to those `limit` (a pattern, `--limit`) selects.
    fn limit(&self, hosts: &[String], limit: &str) -> Result<Vec<String>, String> {
        let allowed = self.hosts_matching(limit)?;
        Ok(hosts
            .iter()
            .filter(|h| allowed.contains(h))
            .cloned()
            .collect())
    }
}
