//! Node ids held by outbox entries (their origin, the origin of the write they replaced),
//! interned: an entry keeps a 4-byte number instead of a 16-byte shared string, and nearly
//! every entry names the same node or two. Each id is counted, and forgotten when no entry
//! names it any more.

use std::collections::HashMap;

use crate::node::NodeId;

/// The number of an interned id.
pub(crate) type OriginIndex = u32;

#[derive(Debug, Default)]
pub(crate) struct Origins {
    /// By number: the id and how many times entries name it (0: the number is free).
    names: Vec<(Option<NodeId>, usize)>,
    free: Vec<OriginIndex>,
    by_name: HashMap<NodeId, OriginIndex, foldhash::fast::RandomState>,
    /// The number handed out last: the next entry nearly always names the same id.
    last: OriginIndex,
}

impl Origins {
    /// The number of `node`, counted once more.
    pub fn acquire(&mut self, node: &NodeId) -> OriginIndex {
        let index = match self.names.get(self.last as usize) {
            Some((Some(name), _)) if name == node => self.last,
            _ => match self.by_name.get(node) {
                Some(&index) => index,
                None => {
                    let index = match self.free.pop() {
                        Some(index) => index,
                        None => {
                            self.names.push((None, 0));
                            OriginIndex::try_from(self.names.len() - 1)
                                .expect("fewer than 2^32 distinct node ids")
                        }
                    };
                    self.names[index as usize].0 = Some(node.clone());
                    self.by_name.insert(node.clone(), index);
                    index
                }
            },
        };
        self.names[index as usize].1 += 1;
        self.last = index;
        index
    }

    /// Counts `index` once less; forgets the id when nothing names it.
    pub fn release(&mut self, index: OriginIndex) {
        let (name, uses) = &mut self.names[index as usize];
        *uses -= 1;
        if *uses == 0 {
            if let Some(name) = name.take() {
                self.by_name.remove(&name);
            }
            self.free.push(index);
        }
    }

    pub fn get(&self, index: OriginIndex) -> &NodeId {
        self.names[index as usize]
            .0
            .as_ref()
            .expect("an entry names an interned id")
    }

    #[cfg(test)]
    fn held(&self) -> usize {
        self.by_name.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_shared_counted_and_forgotten() {
        let mut origins = Origins::default();
        let a = NodeId::new("node-a").unwrap();
        let b = NodeId::new("node-b").unwrap();
        let ia = origins.acquire(&a);
        assert_eq!(origins.acquire(&NodeId::new("node-a").unwrap()), ia);
        let ib = origins.acquire(&b);
        assert_ne!(ia, ib);
        assert_eq!(origins.get(ia), &a);
        assert_eq!(origins.get(ib), &b);
        assert_eq!(origins.held(), 2);
        origins.release(ib);
        assert_eq!(origins.held(), 1);
        origins.release(ia);
        assert_eq!(origins.get(ia), &a, "still named once");
        origins.release(ia);
        assert_eq!(origins.held(), 0);
        let c = NodeId::new("node-c").unwrap();
        let ic = origins.acquire(&c);
        assert!(ic == ia || ic == ib, "a freed number is reused");
        assert_eq!(origins.get(ic), &c);
        assert_eq!(origins.names.len(), 2);
    }
}
