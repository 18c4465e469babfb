//! The JSON Schema of the mapping table, for editors (completion, hover and validation in VS
//! Code, Helix, Neovim through yaml-language-server) and other tools.
//!
//! It is derived from the types the table is parsed into, so it follows the parser: the same
//! keys, unknown keys refused (`additionalProperties: false`), the descriptions of
//! docs/mappings.md on every key. eventmap's repository commits it at [`PATH`]
//! (`eventmap schema --output schema/mappings.schema.json` writes it, a test keeps it current),
//! and a table names it in its first line:
//!
//! ```yaml
//! # yaml-language-server: $schema=schema/mappings.schema.json
//! version: 1
//! ```
//!
//! The schema checks the table's shape only; what needs the protos (fields, messages, types)
//! is `eventmap check`'s.
//!
//! ```
//! let schema = eventmap_codegen::schema::mapping_table();
//! assert_eq!(schema["title"], "eventmap mapping table (format v1)");
//! assert_eq!(schema["additionalProperties"], false);
//! ```

use schemars::Schema;
use schemars::generate::SchemaSettings;
use schemars::transform::RecursiveTransform;

use crate::table::Table;

/// Where eventmap's repository commits the schema, relative to its root.
pub const PATH: &str = "schema/mappings.schema.json";

/// The JSON Schema (draft 7, which every YAML language server reads) of a mapping table.
pub fn mapping_table() -> serde_json::Value {
    SchemaSettings::draft07()
        .with_transform(RecursiveTransform(for_editors))
        .into_generator()
        .into_root_schema_for::<Table>()
        .to_value()
}

/// [`mapping_table`] as the committed file holds it: pretty-printed JSON, two-space indents,
/// a final newline.
pub fn mapping_table_json() -> String {
    format!("{:#}\n", mapping_table())
}

/// Shapes one (sub)schema for an editor's hover: a description is one paragraph per line
/// (the doc comments it comes from are wrapped at 100 columns), and an optional key's
/// `default: null` (serde's absent value) is left out.
fn for_editors(schema: &mut Schema) {
    if schema
        .get("default")
        .is_some_and(serde_json::Value::is_null)
    {
        schema.remove("default");
    }
    if let Some(serde_json::Value::String(text)) = schema.get_mut("description") {
        *text = text
            .split("\n\n")
            .map(|paragraph| paragraph.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n\n");
    }
}
