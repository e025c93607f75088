//! The engine's view of an inventory, over `drover-inventory`.

use drover_engine::InventorySource;
use drover_inventory::Inventory;
use drover_playbook::Vars;
use indexmap::IndexMap;

pub struct InventoryAdapter(pub Inventory);

impl InventorySource for InventoryAdapter {
    fn hosts_matching(&self, pattern: &str) -> Result<Vec<String>, String> {
        self.0
            .select(pattern)
            .map(|s| s.hosts)
            .map_err(|e| e.to_string())
    }

    fn host_vars(&self, host: &str) -> Vars {
        self.0.host_vars(host)
    }

    fn groups(&self) -> IndexMap<String, Vec<String>> {
        self.0.groups_map()
    }

    fn group_names(&self, host: &str) -> Vec<String> {
        self.0.group_names(host)
    }

    fn limit(&self, hosts: &[String], limit: &str) -> Result<Vec<String>, String> {
        self.0
            .limit(hosts, limit)
            .map(|s| s.hosts)
            .map_err(|e| e.to_string())
    }
}
