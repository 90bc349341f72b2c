//! CREATE TYPE, DROP TYPE and SHOW TYPES: custom type names for complex types, as ksqlDB's
//! type registry keeps them. The parser resolves a custom name to its type, so sources
//! store only built-in types and a type dropped later leaves them as they were.

use crate::catalog::CatalogState;
use crate::error::{EngineError, Result};
use crate::limits::CUSTOM_TYPES_MAX;
use crate::runtime::Runtime;
use crate::types::SqlType;

use super::outcome::Outcome;
use super::{check_count, Mode, Sandbox};

impl Runtime {
    pub(super) fn create_type(
        &self,
        sandbox: &mut Sandbox,
        name: &str,
        ty: &SqlType,
        if_not_exists: bool,
        mode: Mode,
    ) -> Result<Outcome> {
        let command_id = format!("type/{name}/create");
        if let Some(existing) = sandbox.state.types.get(name) {
            let message = format!(
                "Cannot register custom type '{name}' since it is already registered with type: {existing}"
            );
            if if_not_exists {
                return Ok(self.command_outcome(&command_id, message, mode));
            }
            return Err(EngineError::conflict(message));
        }
        if mode != Mode::Replay {
            check_count("custom types", sandbox.state.types.len(), CUSTOM_TYPES_MAX)?;
        }
        if mode == Mode::Apply {
            // The resolved type: replay needs no other custom type to read it back.
            self.journal_append(format!("CREATE TYPE `{name}` AS {ty};").as_bytes())?;
        }
        sandbox.state.types.insert(name.to_string(), ty.clone());
        Ok(self.command_outcome(
            &command_id,
            format!("Registered custom type with name '{name}' and SQL type {ty}"),
            mode,
        ))
    }

    pub(super) fn drop_type(
        &self,
        sandbox: &mut Sandbox,
        name: &str,
        if_exists: bool,
        mode: Mode,
    ) -> Result<Outcome> {
        let command_id = format!("type/{name}/drop");
        if !sandbox.state.types.contains_key(name) {
            let message = format!("Type {name} does not exist.");
            if if_exists {
                return Ok(self.command_outcome(&command_id, message, mode));
            }
            return Err(EngineError::not_found(message));
        }
        if mode == Mode::Apply {
            self.journal_append(format!("DROP TYPE `{name}`;").as_bytes())?;
        }
        sandbox.state.types.remove(name);
        Ok(self.command_outcome(&command_id, format!("Dropped type '{name}'"), mode))
    }
}

/// SHOW TYPES: every custom type, by name.
pub(super) fn list_types(state: &CatalogState) -> Outcome {
    Outcome::Types {
        types: state
            .types
            .iter()
            .map(|(name, ty)| (name.clone(), ty.clone()))
            .collect(),
    }
}
