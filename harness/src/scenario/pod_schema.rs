//! JSON Schema of the `pod` field: k8s-openapi's `v1.Pod`.

pub fn pod_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    <k8s_openapi::api::core::v1::Pod as schemars::JsonSchema>::json_schema(generator)
}
