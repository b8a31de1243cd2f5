//! The Confluent REST Proxy v2 consumer API (`/consumers/{group}/…`) on the shared group
//! coordinator: create an instance, subscribe, fetch records, seek, commit and read
//! committed offsets, reject records to the group's dead-letter topic ([`reject`]), delete. Idle instances are removed after their timeout (REST Proxy's
//! `consumer.instance.timeout.ms`, default 5 minutes).

pub mod assign;
pub mod handlers;
pub mod instance;
pub mod offsets;
pub mod positions;
pub mod records;
pub mod reject;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use strom_broker::GroupCoordinator;

use instance::Instance;

/// Default idle timeout of an instance.
pub const DEFAULT_INSTANCE_TIMEOUT: Duration = Duration::from_secs(300);

/// The consumer instances of this server, by (group, name).
pub struct Consumers {
    pub groups: GroupCoordinator,
    instances: parking_lot::Mutex<HashMap<(String, String), Arc<Instance>>>,
}

impl Consumers {
    pub fn new(groups: GroupCoordinator) -> Arc<Consumers> {
        Arc::new(Consumers {
            groups,
            instances: parking_lot::Mutex::new(HashMap::new()),
        })
    }

    pub fn get(&self, group: &str, name: &str) -> Option<Arc<Instance>> {
        self.instances
            .lock()
            .get(&(group.to_string(), name.to_string()))
            .cloned()
    }

    /// Adds an instance; false if the name is taken in this group.
    pub fn insert(&self, instance: Arc<Instance>) -> bool {
        let key = (instance.group.clone(), instance.name.clone());
        let mut all = self.instances.lock();
        if all.contains_key(&key) {
            return false;
        }
        all.insert(key, instance);
        true
    }

    pub fn remove(&self, group: &str, name: &str) -> Option<Arc<Instance>> {
        let removed = self
            .instances
            .lock()
            .remove(&(group.to_string(), name.to_string()));
        if let Some(i) = &removed {
            i.close(&self.groups);
        }
        removed
    }

    /// Removes instances idle past their timeout (and so leaves their groups).
    pub fn reap(&self) -> usize {
        let idle: Vec<(String, String)> = self
            .instances
            .lock()
            .iter()
            .filter(|(_, i)| i.is_idle())
            .map(|(k, _)| k.clone())
            .collect();
        for (group, name) in &idle {
            tracing::info!(%group, instance = %name, "removing idle HTTP consumer instance");
            self.remove(group, name);
        }
        idle.len()
    }

    /// Runs [`Consumers::reap`] every second until `shutdown`, then closes every instance.
    pub fn spawn_reaper(self: &Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => break,
                }
                let Some(me) = me.upgrade() else { return };
                me.reap();
            }
            if let Some(me) = me.upgrade() {
                let all: Vec<_> = me.instances.lock().drain().map(|(_, i)| i).collect();
                for i in all {
                    i.close(&me.groups);
                }
            }
        });
    }
}
