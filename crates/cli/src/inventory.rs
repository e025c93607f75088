//! The engine's view of an inventory, over `drover-inventory`.

use drover_engine::InventorySource;
use drover_inventory::Inventory;
use drover_playbook::Vars;
use indexmap::IndexMap;

/// Reads the inventory sources again (`meta: refresh_inventory`).
pub type Reload = Box<dyn Fn() -> Result<Inventory, String> + Send + Sync>;

/// The inventory behind a lock: `add_host` and `group_by` change it during the run, and
/// `meta: refresh_inventory` replaces it.
pub struct InventoryAdapter(
    pub std::sync::RwLock<Inventory>,
    Option<Reload>,
    /// Run-time memberships, kept across refreshes (as Ansible keeps `add_host` hosts).
    std::sync::Mutex<Vec<(String, String)>>,
);

impl InventoryAdapter {
    pub fn new(inventory: Inventory) -> InventoryAdapter {
        InventoryAdapter(
            std::sync::RwLock::new(inventory),
            None,
            std::sync::Mutex::new(Vec::new()),
        )
    }

    pub fn with_reload(mut self, reload: Reload) -> InventoryAdapter {
        self.1 = Some(reload);
        self
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
        if let Ok(mut added) = self.2.lock() {
            added.push((host.to_string(), group.to_string()));
        }
    }

    fn refresh(&self) -> Result<(), String> {
        let Some(reload) = &self.1 else {
            return Ok(());
        };
        let mut fresh = reload()?;
        if let Ok(added) = self.2.lock() {
            // Hosts made by add_host (members of `all`) stay; a host the sources no longer
            // have is gone, with its run-time groups.
            let made = |h: &str| added.iter().any(|(x, g)| x == h && g == "all");
            for (host, group) in added.iter() {
                if made(host) || fresh.host(host).is_some() {
                    fresh.add_host(host, group);
                }
            }
        }
        fresh.reconcile();
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
        Ok(())
    }

    fn limit(&self, hosts: &[String], limit: &str) -> Result<Vec<String>, String> {
        self.inv()
            .limit(hosts, limit)
            .map(|s| s.hosts)
            .map_err(|e| e.to_string())
    }
}
