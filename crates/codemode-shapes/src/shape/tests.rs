//! Tests of `shape`.

use super::*;

fn learned(values: &[Value]) -> Shape {
    values.iter().map(Shape::of).reduce(Shape::merge).unwrap_or(Shape::Any)
}

#[test]
fn a_field_missing_from_some_results_is_optional() {
    let shape = learned(&[json!({"name": "a", "size": 1}), json!({"name": "b"})]);
    assert_eq!(
        shape.to_schema(),
        json!({"type": "object", "properties": {"name": {"type": "string"}, "size": {"type": "number"}}, "required": ["name"]})
    );
    assert_eq!(shape.summary(), "{name, size?}");
}

#[test]
fn arrays_of_objects_merge_their_elements() {
    let shape = learned(&[json!([{"id": 1, "tags": []}, {"id": 2, "tags": ["x"], "note": null}])]);
    assert_eq!(
        shape.to_schema(),
        json!({"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "number"},
            "note": {},
            "tags": {"type": "array", "items": {"type": "string"}},
        }, "required": ["id", "tags"]}})
    );
    assert_eq!(shape.summary(), "{id, note?, tags}[]");
}

#[test]
fn mixed_kinds_become_a_union_with_one_variant_per_kind() {
    let shape = learned(&[
        json!("text"),
        json!({"a": 1}),
        json!(null),
        json!("more"),
        json!({"b": true}),
    ]);
    let Shape::Union { variants } = &shape else {
        panic!("not a union: {shape:?}")
    };
    assert_eq!(variants.len(), 3, "{variants:?}");
    assert_eq!(shape.summary(), "null | string | {a?, b?, ...}");
}

#[test]
fn null_says_nothing_about_a_field_but_stays_in_a_union() {
    let shape = learned(&[json!({"a": null, "b": "x"}), json!({"a": null, "b": null})]);
    assert_eq!(
        shape.to_schema()["properties"],
        json!({"a": {}, "b": {"anyOf": [{"type": "null"}, {"type": "string"}]}})
    );
    assert_eq!(learned(&[json!(null)]).to_schema(), json!({"type": "null"}));
}

#[test]
fn results_that_disagree_on_their_fields_leave_the_object_open() {
    // Rows of two different queries.
    let rows = learned(&[json!([{"name": "Ann", "city": "Berlin"}]), json!([{"total": 3}])]);
    assert_eq!(rows.summary(), "{city?, name?, total?, ...}[]");
    assert_eq!(rows.to_schema()["items"]["additionalProperties"], json!({}));
    // Results that mostly agree stay closed: a field never seen is a mistake.
    let files = learned(&[
        json!({"name": "a", "size": 1}),
        json!({"name": "b", "size": 2, "mtime": 3}),
    ]);
    assert_eq!(files.summary(), "{mtime?, name, size}");
    assert!(files.to_schema().get("additionalProperties").is_none());
}

#[test]
fn objects_keyed_by_data_are_dictionaries() {
    let shape = learned(&[json!({"/tmp/a.txt": 3, "/tmp/b.txt": 4})]);
    assert_eq!(
        shape.to_schema(),
        json!({"type": "object", "additionalProperties": {"type": "number"}})
    );
    let dates = learned(&[json!({"2024-01-01": {"n": 1}})]);
    assert_eq!(dates.summary(), "Record<string, {n}>");
    let many: serde_json::Map<String, Value> = (0..60).map(|i| (format!("k{i}"), json!(i))).collect();
    assert_eq!(learned(&[Value::Object(many)]).summary(), "Record<string, number>");
}

#[test]
fn an_object_merged_with_a_dictionary_is_a_dictionary() {
    let shape = learned(&[json!({"a": 1}), json!({"/x": "s"})]);
    assert_eq!(shape.summary(), "Record<string, number | string>");
}

#[test]
fn empty_arrays_and_objects_say_nothing_about_their_contents() {
    assert_eq!(learned(&[json!([])]).to_schema(), json!({"type": "array"}));
    assert_eq!(
        learned(&[json!({})]).to_schema(),
        json!({"type": "object", "additionalProperties": {}})
    );
    assert_eq!(learned(&[json!([]), json!([1])]).summary(), "number[]");
}

#[test]
fn deep_and_big_values_are_cut() {
    let mut deep = json!(1);
    for _ in 0..20 {
        deep = json!({"next": deep});
    }
    let shape = Shape::of(&deep);
    assert!(shape.size() <= MAX_DEPTH + 3, "{}", shape.size());
    let wide: Vec<Value> = (0..40)
        .map(|i| {
            let fields: serde_json::Map<String, Value> =
                (0..40).map(|j| (format!("f{i}x{j}"), json!([{"a": [1]}]))).collect();
            Value::Object(fields)
        })
        .collect();
    let shape = Shape::of(&Value::Array(wide));
    assert!(shape.size() <= MAX_NODES, "{}", shape.size());
}

#[test]
fn admits_says_whether_a_result_would_widen_the_shape() {
    let shape = learned(&[json!({"name": "a", "size": 1}), json!({"name": "b"})]);
    assert!(shape.admits(&json!({"name": "c"})));
    assert!(!shape.admits(&json!({"name": "c", "extra": 1})));
    assert!(!shape.admits(&json!("text")));
}

#[test]
fn shapes_hold_no_values() {
    let shape = learned(&[json!({"token": "sk-secret-123", "user": {"email": "ann@example.org", "age": 41}})]);
    let stored = serde_json::to_string(&shape).unwrap_or_default();
    for value in ["sk-secret-123", "ann@example.org", "41"] {
        assert!(!stored.contains(value), "{value} stored in {stored}");
    }
}
