//! Reads tests/vectors/wire.txt: named vectors of `field = value` lines.
#![allow(dead_code)] // each test binary uses a subset

use std::collections::BTreeMap;

pub struct Vector {
    pub fields: BTreeMap<String, String>,
}

impl Vector {
    pub fn get(&self, field: &str) -> &str {
        self.fields
            .get(field)
            .unwrap_or_else(|| panic!("vector has no field {field}"))
    }

    pub fn opt(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }

    pub fn u64(&self, field: &str) -> u64 {
        self.get(field).parse().unwrap()
    }

    pub fn bytes(&self) -> Vec<u8> {
        let hex = self.get("hex");
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }
}

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every vector, by name.
pub fn load() -> BTreeMap<String, Vector> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/wire.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let mut all = BTreeMap::new();
    let mut current: Option<(String, Vector)> = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if let Some((name, v)) = current.take() {
                all.insert(name, v);
            }
            current = Some((
                name.to_string(),
                Vector {
                    fields: BTreeMap::new(),
                },
            ));
            continue;
        }
        let (field, value) = line.split_once(" = ").expect("field = value");
        let (_, v) = current.as_mut().expect("a field before any [name]");
        v.fields.insert(field.to_string(), value.to_string());
    }
    if let Some((name, v)) = current {
        all.insert(name, v);
    }
    all
}
