//! The engine's view of an inventory, over `drover-inventory`.

use drover_engine::InventorySource;
use drover_inventory::Inventory;
use drover_playbook::Vars;
use indexmap::IndexMap;

/// The inventory behind a lock: `add_host` and `group_by` change it during the run.
pub struct InventoryAdapter(pub std::sync::RwLock<Inventory>);

impl InventoryAdapter {
    pub fn new(inventory: Inventory) -> InventoryAdapter {
        InventoryAdapter(std::sync::RwLock::new(inventory))
    }

    fn inv(&self) -> std::sync::RwLockReadGuard<'_, Inventory> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl InventorySource for InventoryAdapter {
    fn hosts_matching(&self, pattern: &str) -> Result<Vec<String>, String> {
        self.inv()
            .select(pattern)
            .map(|s| s.hosts)
            .map_err(|e| e.to_string())
    }

    fn host_vars(&self, host: &str) -> Vars {
        self.inv().host_vars(host)
    }

    fn groups(&self) -> IndexMap<String, Vec<String>> {
        self.inv().groups_map()
    }

    fn group_names(&self, host: &str) -> Vec<String> {
        self.inv().group_names(host)
    }

    fn add_membership(&self, host: &str, group: &str) {
        let mut inv = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inv.add_host(host, group);
        inv.reconcile();
    }

    fn limit(&self, hosts: &[String], limit: &str) -> Result<Vec<String>, String> {
        self.inv()
            .limit(hosts, limit)
            .map(|s| s.hosts)
            .map_err(|e| e.to_string())
    }
}
