//! The table as `template.yaml` defines it — the one definition — turned into a CreateTable call,
//! so tests and the local server create exactly the table production gets.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_dynamodb::Client;
use serde_yaml::Value;

/// The template shipped with the repository.
pub const TEMPLATE: &str = include_str!("../../template.yaml");

#[derive(Debug, Clone, PartialEq)]
pub struct TableDefinition {
    pub logical_id: String,
    pub attributes: Vec<(String, String)>,
    pub key_schema: Vec<(String, String)>,
    pub indexes: Vec<IndexDefinition>,
    pub ttl_attribute: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IndexDefinition {
    pub name: String,
    pub key_schema: Vec<(String, String)>,
    pub projection: String,
}

fn s(v: &Value, key: &str) -> Result<String, String> {
    v.get(key).and_then(Value::as_str).map(str::to_string).ok_or_else(|| format!("table definition: missing {key}"))
}

fn key_schema(v: Option<&Value>) -> Result<Vec<(String, String)>, String> {
    v.and_then(Value::as_sequence)
        .ok_or("table definition: missing KeySchema")?
        .iter()
        .map(|k| Ok((s(k, "AttributeName")?, s(k, "KeyType")?)))
        .collect()
}

/// Finds the single `AWS::DynamoDB::Table` of the template and reads its definition.
pub fn parse(template: &str) -> Result<TableDefinition, String> {
    let doc: Value = serde_yaml::from_str(template).map_err(|e| format!("template.yaml: {e}"))?;
    let resources = doc.get("Resources").and_then(Value::as_mapping).ok_or("template.yaml: no Resources")?;
    let mut tables =
        resources.iter().filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some("AWS::DynamoDB::Table"));
    let (id, table) = tables.next().ok_or("template.yaml: no AWS::DynamoDB::Table")?;
    if tables.next().is_some() {
        return Err("template.yaml: expected exactly one table".into());
    }
    let props = table.get("Properties").ok_or("table has no Properties")?;
    let attributes = props
        .get("AttributeDefinitions")
        .and_then(Value::as_sequence)
        .ok_or("table definition: missing AttributeDefinitions")?
        .iter()
        .map(|a| Ok((s(a, "AttributeName")?, s(a, "AttributeType")?)))
        .collect::<Result<Vec<_>, String>>()?;
    let indexes = props
        .get("GlobalSecondaryIndexes")
        .and_then(Value::as_sequence)
        .map(|seq| {
            seq.iter()
                .map(|g| {
                    Ok(IndexDefinition {
                        name: s(g, "IndexName")?,
                        key_schema: key_schema(g.get("KeySchema"))?,
                        projection: g
                            .get("Projection")
                            .and_then(|p| p.get("ProjectionType"))
                            .and_then(Value::as_str)
                            .unwrap_or("ALL")
                            .to_string(),
                    })
                })
                .collect::<Result<Vec<_>, String>>()
        })
        .transpose()?
        .unwrap_or_default();
    let ttl_attribute = props
        .get("TimeToLiveSpecification")
        .filter(|t| t.get("Enabled").and_then(Value::as_bool) == Some(true))
        .and_then(|t| t.get("AttributeName"))
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(TableDefinition {
        logical_id: id.as_str().unwrap_or_default().to_string(),
        attributes,
        key_schema: key_schema(props.get("KeySchema"))?,
        indexes,
        ttl_attribute,
    })
}

fn elements(keys: &[(String, String)]) -> Result<Vec<KeySchemaElement>, String> {
    keys.iter()
        .map(|(n, t)| {
            KeySchemaElement::builder()
                .attribute_name(n)
                .key_type(KeyType::from(t.as_str()))
                .build()
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// Creates `name` with the template's definition (on-demand) and waits until it is usable.
pub async fn create_table(client: &Client, name: &str, def: &TableDefinition) -> Result<(), String> {
    let mut req = client.create_table().table_name(name).billing_mode(BillingMode::PayPerRequest);
    for (n, t) in &def.attributes {
        req = req.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(n)
                .attribute_type(ScalarAttributeType::from(t.as_str()))
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    req = req.set_key_schema(Some(elements(&def.key_schema)?));
    for idx in &def.indexes {
        req = req.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&idx.name)
                .set_key_schema(Some(elements(&idx.key_schema)?))
                .projection(
                    Projection::builder().projection_type(ProjectionType::from(idx.projection.as_str())).build(),
                )
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    match req.send().await {
        Ok(_) => {}
        // An attempt the SDK gave up on (DynamoDB Local's first CreateTable, on a cold JVM, can
        // outlast the 1 s attempt timeout of `shared::state::sdk_config`) may have created the
        // table before the retry: a table under this name with the template's keys is that one.
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => {
            has_keys(client, name, &def.key_schema).await?;
        }
        Err(e) => return Err(format!("CreateTable {name}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(&e))),
    }
    if let Some(attr) = &def.ttl_attribute {
        let spec =
            TimeToLiveSpecification::builder().attribute_name(attr).enabled(true).build().map_err(|e| e.to_string())?;
        if let Err(e) = client.update_time_to_live().table_name(name).time_to_live_specification(spec).send().await {
            // Refused when it is on already (that table above, or a retried attempt): fine if on `attr`.
            let on = client.describe_time_to_live().table_name(name).send().await.ok().and_then(|d| {
                d.time_to_live_description().filter(|t| t.attribute_name() == Some(attr.as_str())).map(|t| {
                    matches!(t.time_to_live_status(), Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling))
                })
            });
            if on != Some(true) {
                return Err(format!("UpdateTimeToLive {name}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)));
            }
        }
    }
    Ok(())
}

/// Whether the existing table `name` has exactly `keys` as its key schema.
async fn has_keys(client: &Client, name: &str, keys: &[(String, String)]) -> Result<(), String> {
    let described = client
        .describe_table()
        .table_name(name)
        .send()
        .await
        .map_err(|e| format!("DescribeTable {name}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)))?;
    let found: Vec<(String, String)> = described
        .table()
        .map(|t| {
            t.key_schema().iter().map(|k| (k.attribute_name().to_string(), k.key_type().as_str().to_string())).collect()
        })
        .unwrap_or_default();
    if found == keys {
        Ok(())
    } else {
        Err(format!("CreateTable {name}: a table of that name exists with keys {found:?}, not the template's {keys:?}"))
    }
}

/// Creates the table unless it exists already (the local server's persistent database).
pub async fn ensure_table(client: &Client, name: &str) -> Result<bool, String> {
    let def = parse(TEMPLATE)?;
    match client.describe_table().table_name(name).send().await {
        Ok(_) => Ok(false),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => {
            create_table(client, name, &def).await.map(|_| true)
        }
        Err(e) => Err(format!("DescribeTable {name}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(&e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_defines_the_keys_and_indexes_the_code_uses() {
        let def = parse(TEMPLATE).unwrap();
        assert_eq!(def.key_schema, vec![("PK".into(), "HASH".into()), ("SK".into(), "RANGE".into())]);
        let names: Vec<&str> = def.indexes.iter().map(|i| i.name.as_str()).collect();
        assert!(names.contains(&shared::storage::keys::DUE_INDEX));
        assert!(names.contains(&shared::storage::keys::PROGRAM_MEMBERS_INDEX));
        assert_eq!(def.ttl_attribute.as_deref(), Some(shared::storage::keys::TTL));
    }
}
