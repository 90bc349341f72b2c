//! Foundry query functions: named, versioned, parameterized queries (Foundry's Functions
//! API `queryApiName`, `version`, typed `parameters`), loaded from a JSON file, and the
//! binding of a request's parameter values into a function's SQL.
//!
//! The file is an array of functions:
//! `[{"apiName": "topPages", "version": "1.0.0", "sql": "SELECT … WHERE views > ${min};",
//!    "parameters": {"min": "integer"}, "displayName"?: "…"}]`.
//! Parameters are named `${name}` in the SQL and rendered as SQL literals (strings quoted
//! and escaped), so a value can never change the statement's shape.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::Value as Json;

/// Most functions one file may declare: the registry is held in memory and listed whole.
pub const FUNCTIONS_MAX: usize = 10_000;

/// A parameter's type (Foundry's `QueryDataType` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataType {
    Integer,
    Long,
    Double,
    Float,
    String,
    Boolean,
}

impl DataType {
    pub fn name(self) -> &'static str {
        match self {
            DataType::Integer => "integer",
            DataType::Long => "long",
            DataType::Double => "double",
            DataType::Float => "float",
            DataType::String => "string",
            DataType::Boolean => "boolean",
        }
    }

    /// `value` as a SQL literal of this type, or `None` if it is not one.
    fn literal(self, value: &Json) -> Option<String> {
        match (self, value) {
            (DataType::Integer, Json::Number(n)) => n
                .as_i64()
                .filter(|v| i32::try_from(*v).is_ok())
                .map(|v| v.to_string()),
            (DataType::Long, Json::Number(n)) => n.as_i64().map(|v| v.to_string()),
            (DataType::Double | DataType::Float, Json::Number(n)) => n
                .as_f64()
                .filter(|v| v.is_finite())
                .map(|v| format!("{v:?}")),
            (DataType::String, Json::String(s)) => Some(format!("'{}'", s.replace('\'', "''"))),
            (DataType::Boolean, Json::Bool(b)) => Some(b.to_string()),
            _ => None,
        }
    }
}

/// One version of a query function.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct QueryFunction {
    #[serde(rename = "apiName")]
    pub api_name: String,
    pub version: String,
    #[serde(rename = "displayName", default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub sql: String,
    #[serde(default)]
    pub parameters: BTreeMap<String, DataType>,
}

impl QueryFunction {
    /// Session variables that fill every parameter with a neutral value of its type: what
    /// planning the SQL needs to learn its result columns (Foundry's `output`) without a
    /// caller's values.
    pub fn placeholder_vars(&self) -> HashMap<String, String> {
        self.parameters
            .iter()
            .map(|(name, ty)| {
                let literal = match ty {
                    DataType::Integer | DataType::Long => "1",
                    DataType::Double | DataType::Float => "1.0",
                    DataType::String => "''",
                    DataType::Boolean => "true",
                };
                (name.clone(), literal.to_string())
            })
            .collect()
    }
}

/// Why a request's parameters do not fit its function (Foundry's error names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindError {
    MissingParameter(Vec<String>),
    UnknownParameter {
        unknown: Vec<String>,
        expected: Vec<String>,
    },
    InvalidQueryParameterValue {
        parameter_id: String,
        data_type: DataType,
        value: Json,
    },
}

impl QueryFunction {
    /// The session variables that bind `values` into the SQL.
    pub fn bind(
        &self,
        values: &serde_json::Map<String, Json>,
    ) -> Result<HashMap<String, String>, BindError> {
        let unknown: Vec<String> = values
            .keys()
            .filter(|k| !self.parameters.contains_key(*k))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(BindError::UnknownParameter {
                unknown,
                expected: self.parameters.keys().cloned().collect(),
            });
        }
        let missing: Vec<String> = self
            .parameters
            .keys()
            .filter(|k| values.get(*k).is_none_or(Json::is_null))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(BindError::MissingParameter(missing));
        }
        let mut vars = HashMap::new();
        for (name, ty) in &self.parameters {
            let value = &values[name];
            let literal =
                ty.literal(value)
                    .ok_or_else(|| BindError::InvalidQueryParameterValue {
                        parameter_id: name.clone(),
                        data_type: *ty,
                        value: value.clone(),
                    })?;
            vars.insert(name.clone(), literal);
        }
        Ok(vars)
    }
}

/// Every function, by name, its versions in ascending order.
#[derive(Debug, Clone, Default)]
pub struct FunctionRegistry {
    functions: BTreeMap<String, Vec<QueryFunction>>,
}

/// How a function was not found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<'a> {
    Found(&'a QueryFunction),
    NoSuchFunction,
    NoSuchVersion,
}

impl FunctionRegistry {
    /// Parses a functions file. Errors name the problem (and the function).
    pub fn parse(text: &[u8]) -> Result<FunctionRegistry, String> {
        let list: Vec<QueryFunction> = serde_json::from_slice(text)
            .map_err(|e| format!("not a list of query functions: {e}"))?;
        if list.len() > FUNCTIONS_MAX {
            return Err(format!("more than {FUNCTIONS_MAX} functions"));
        }
        let mut functions: BTreeMap<String, Vec<QueryFunction>> = BTreeMap::new();
        for f in list {
            if parse_version(&f.version).is_none() {
                return Err(format!(
                    "{}: version `{}` is not MAJOR.MINOR.PATCH",
                    f.api_name, f.version
                ));
            }
            let versions = functions.entry(f.api_name.clone()).or_default();
            if versions.iter().any(|v| v.version == f.version) {
                return Err(format!("{} {} is declared twice", f.api_name, f.version));
            }
            versions.push(f);
        }
        for versions in functions.values_mut() {
            versions.sort_by_key(|f| parse_version(&f.version));
        }
        Ok(FunctionRegistry { functions })
    }

    /// Function `name` at `version`, or its highest version: by default the highest
    /// release, pre-releases too with `include_prerelease` (Foundry's `includePrerelease`).
    pub fn lookup(
        &self,
        name: &str,
        version: Option<&str>,
        include_prerelease: bool,
    ) -> Lookup<'_> {
        let Some(versions) = self.functions.get(name) else {
            return Lookup::NoSuchFunction;
        };
        let found = match version {
            None => versions
                .iter()
                .rev()
                .find(|f| include_prerelease || !f.version.contains('-')),
            Some(v) => versions.iter().find(|f| f.version == v),
        };
        found.map_or(Lookup::NoSuchVersion, Lookup::Found)
    }

    /// Function `rid` (see [`function_rid`]) at `version` or its highest, as [`Self::lookup`].
    pub fn lookup_rid(
        &self,
        rid: &str,
        version: Option<&str>,
        include_prerelease: bool,
    ) -> Lookup<'_> {
        match self.functions.keys().find(|name| function_rid(name) == rid) {
            Some(name) => self.lookup(name, version, include_prerelease),
            None => Lookup::NoSuchFunction,
        }
    }

    pub fn len(&self) -> usize {
        self.functions.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }
}

/// A function's resource id, `ri.function-registry.main.function.<uuid>` as Foundry writes
/// them, the same for every version of the function. The uuid is a name-based one (v5) of
/// the api name, so a rid stays the same across restarts and nodes without storing one.
pub fn function_rid(api_name: &str) -> String {
    let uuid = uuid::Uuid::new_v5(&RID_NAMESPACE, api_name.as_bytes());
    format!("ri.function-registry.main.function.{uuid}")
}

/// The namespace of [`function_rid`]'s name-based uuids (a fixed, random one: rids of
/// Sluice's functions never collide with v5 ids of other namespaces).
const RID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x5c1e_c0de_f00d_4a11_9e5e_fe7c_a11f_0001);

/// `1.2.3` (with an optional `-pre` suffix, ordered before the release) as a sort key.
fn parse_version(v: &str) -> Option<(u64, u64, u64, bool)> {
    let (core, pre) = match v.split_once('-') {
        Some((core, _)) => (core, true),
        None => (v, false),
    };
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let (a, b, c) = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some((a, b, c, !pre))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn registry() -> FunctionRegistry {
        FunctionRegistry::parse(
            br#"[{"apiName":"top","version":"1.0.0","sql":"SELECT * FROM s LIMIT ${n};","parameters":{"n":"integer"}},
                 {"apiName":"top","version":"1.10.0","sql":"SELECT * FROM s WHERE k = ${k};","parameters":{"k":"string"}},
                 {"apiName":"top","version":"1.2.0-rc1","sql":"x","parameters":{}}]"#,
        )
        .expect("valid")
    }

    fn map(v: Json) -> serde_json::Map<String, Json> {
        v.as_object().expect("object").clone()
    }

    #[test]
    fn finds_versions_latest_by_semver() {
        let r = registry();
        assert_eq!(r.len(), 3);
        match r.lookup("top", None, false) {
            Lookup::Found(f) => assert_eq!(f.version, "1.10.0"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            r.lookup("top", Some("1.0.0"), false),
            Lookup::Found(_)
        ));
        assert_eq!(r.lookup("top", Some("9.9.9"), false), Lookup::NoSuchVersion);
        assert_eq!(r.lookup("nope", None, false), Lookup::NoSuchFunction);
        let pre = FunctionRegistry::parse(
            br#"[{"apiName":"p","version":"1.0.0","sql":"a"},{"apiName":"p","version":"2.0.0-rc1","sql":"b"}]"#,
        )
        .expect("valid");
        assert!(matches!(pre.lookup("p", None, false), Lookup::Found(f) if f.version == "1.0.0"));
        assert!(
            matches!(pre.lookup("p", None, true), Lookup::Found(f) if f.version == "2.0.0-rc1")
        );
    }

    #[test]
    fn binds_typed_literals_safely() {
        let r = registry();
        let Lookup::Found(f) = r.lookup("top", None, false) else {
            panic!("top exists")
        };
        let vars = f.bind(&map(json!({"k": "it's"}))).expect("binds");
        assert_eq!(vars["k"], "'it''s'");
        assert_eq!(
            f.bind(&map(json!({}))),
            Err(BindError::MissingParameter(vec!["k".into()]))
        );
        assert!(matches!(
            f.bind(&map(json!({"k": "a", "z": 1}))),
            Err(BindError::UnknownParameter { .. })
        ));
        assert!(matches!(
            f.bind(&map(json!({"k": 5}))),
            Err(BindError::InvalidQueryParameterValue { .. })
        ));
        let Lookup::Found(old) = r.lookup("top", Some("1.0.0"), false) else {
            panic!("1.0.0 exists")
        };
        assert_eq!(old.bind(&map(json!({"n": 2}))).expect("binds")["n"], "2");
        assert!(
            old.bind(&map(json!({"n": 1e20}))).is_err(),
            "not an integer"
        );
        assert!(
            old.bind(&map(json!({"n": 3_000_000_000i64}))).is_err(),
            "beyond int32"
        );
    }

    #[test]
    fn rids_are_stable_and_resolve() {
        let r = registry();
        let rid = function_rid("top");
        assert_eq!(rid, function_rid("top"));
        // Pinned: a rid clients stored must stay the same from one release to the next.
        assert_eq!(
            function_rid("ordersAbove"),
            "ri.function-registry.main.function.4318959b-04eb-5ac5-a2b2-2a373735a7f7"
        );
        assert_ne!(rid, function_rid("tops"));
        let uuid = rid
            .strip_prefix("ri.function-registry.main.function.")
            .expect("prefix");
        let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert!(uuid.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        assert!(
            matches!(r.lookup_rid(&rid, None, false), Lookup::Found(f) if f.version == "1.10.0")
        );
        assert!(
            matches!(r.lookup_rid(&rid, Some("1.0.0"), false), Lookup::Found(f) if f.version == "1.0.0")
        );
        assert_eq!(
            r.lookup_rid(&rid, Some("7.0.0"), false),
            Lookup::NoSuchVersion
        );
        assert_eq!(r.lookup_rid("ri.x", None, false), Lookup::NoSuchFunction);
        let Lookup::Found(f) = r.lookup("top", Some("1.0.0"), false) else {
            panic!("1.0.0 exists")
        };
        assert_eq!(f.placeholder_vars()["n"], "1");
    }

    #[test]
    fn bad_files_are_refused() {
        assert!(FunctionRegistry::parse(b"{}").is_err());
        assert!(FunctionRegistry::parse(br#"[{"apiName":"a","version":"1","sql":"x"}]"#).is_err());
        assert!(FunctionRegistry::parse(
            br#"[{"apiName":"a","version":"1.0.0","sql":"x"},{"apiName":"a","version":"1.0.0","sql":"y"}]"#
        )
        .is_err());
        assert!(FunctionRegistry::parse(
            br#"[{"apiName":"a","version":"1.0.0","sql":"x","parameters":{"p":"uuid"}}]"#
        )
        .is_err());
    }
}
