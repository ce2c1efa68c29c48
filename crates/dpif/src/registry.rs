//! The registry of provider types, and datapath names written `type@name`.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use crate::dpif::Dpif;
use crate::errno::Errno;
use crate::provider::DpifClass;

/// The type a datapath name without `type@` refers to, as in OVS.
pub const DEFAULT_TYPE: &str = "system";

/// Splits `type@name` into its type and name; a name without `@` has the
/// [`DEFAULT_TYPE`].
pub fn parse_name(full: &str) -> (&str, &str) {
    match full.split_once('@') {
        Some((ty, name)) => (ty, name),
        None => (DEFAULT_TYPE, full),
    }
}

/// Provider types by name. Thread-safe; cheap to share behind an `Arc`.
#[derive(Default)]
pub struct Registry {
    classes: RwLock<BTreeMap<&'static str, Arc<dyn DpifClass>>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// Registers a provider type.
    ///
    /// # Errors
    /// - `EEXIST` if a type of that name is registered already.
    pub fn register(&self, class: Arc<dyn DpifClass>) -> Result<(), Errno> {
        let mut classes = self.classes.write().unwrap_or_else(|e| e.into_inner());
        let name = class.type_name();
        if classes.contains_key(name) {
            log::warn!("attempted to register duplicate datapath provider: {name}");
            return Err(Errno::EEXIST);
        }
        classes.insert(name, class);
        Ok(())
    }

    /// Unregisters a provider type.
    ///
    /// # Errors
    /// - `EAFNOSUPPORT` if no type of that name is registered.
    pub fn unregister(&self, type_name: &str) -> Result<(), Errno> {
        let mut classes = self.classes.write().unwrap_or_else(|e| e.into_inner());
        classes
            .remove(type_name)
            .map(|_| ())
            .ok_or(Errno::EAFNOSUPPORT)
    }

    /// The registered type names, sorted.
    pub fn types(&self) -> Vec<&'static str> {
        let classes = self.classes.read().unwrap_or_else(|e| e.into_inner());
        classes.keys().copied().collect()
    }

    /// The provider type registered as `type_name`.
    ///
    /// # Errors
    /// - `EAFNOSUPPORT` if no such type is registered.
    pub fn class(&self, type_name: &str) -> Result<Arc<dyn DpifClass>, Errno> {
        let classes = self.classes.read().unwrap_or_else(|e| e.into_inner());
        classes.get(type_name).cloned().ok_or(Errno::EAFNOSUPPORT)
    }

    /// Names of the existing datapaths of `type_name`.
    ///
    /// # Errors
    /// - `EAFNOSUPPORT` for an unknown type; otherwise the provider's error.
    pub fn enumerate(&self, type_name: &str) -> Result<Vec<String>, Errno> {
        self.class(type_name)?.enumerate()
    }

    /// Opens (with `create`: creates) the datapath `type@name`.
    ///
    /// # Errors
    /// - `EAFNOSUPPORT` for an unknown type; otherwise as
    ///   [`DpifClass::open`].
    pub fn open(&self, full_name: &str, create: bool) -> Result<Dpif, Errno> {
        let (ty, name) = parse_name(full_name);
        let class = self.class(ty).inspect_err(|_| {
            log::warn!(
                "could not {} datapath {full_name} of unknown type {ty}",
                if create { "create" } else { "open" }
            );
        })?;
        match class.open(name, create) {
            Ok(provider) => Ok(Dpif::new(provider)),
            Err(e) => {
                if e != Errno::ENODEV || create {
                    log::warn!(
                        "failed to {} datapath {full_name}: {e}",
                        if create { "create" } else { "open" }
                    );
                }
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_default_to_system() {
        assert_eq!(parse_name("br0"), ("system", "br0"));
        assert_eq!(parse_name("netdev@br0"), ("netdev", "br0"));
        assert_eq!(parse_name("a@b@c"), ("a", "b@c"));
    }

    #[test]
    fn unknown_type_is_eafnosupport() {
        let r = Registry::new();
        assert_eq!(r.open("nosuch@dp", true).err(), Some(Errno::EAFNOSUPPORT));
        assert_eq!(r.enumerate("nosuch").err(), Some(Errno::EAFNOSUPPORT));
        assert_eq!(r.unregister("nosuch").err(), Some(Errno::EAFNOSUPPORT));
    }
}
