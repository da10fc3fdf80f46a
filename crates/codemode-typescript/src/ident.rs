//! Identifier rules: which names are valid TypeScript identifiers, how to quote or
//! sanitize the ones that are not.

/// Words that cannot be used as a bare binding name in TypeScript (strict mode).
const RESERVED: &[&str] = &[
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "import",
    "in",
    "instanceof",
    "new",
    "null",
    "return",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "var",
    "void",
    "while",
    "with",
    "implements",
    "interface",
    "let",
    "package",
    "private",
    "protected",
    "public",
    "static",
    "yield",
    "await",
    "any",
    "boolean",
    "number",
    "string",
    "symbol",
    "unknown",
    "never",
    "object",
    "undefined",
    "type",
    "declare",
    "namespace",
];

/// True when `name` is a valid ECMAScript identifier name (ASCII rules plus `$` and `_`).
///
/// Reserved words are valid *property* names, so this does not reject them.
pub fn is_identifier_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// True when `name` is a reserved word that cannot name a type or a binding.
pub fn is_reserved(name: &str) -> bool {
    RESERVED.contains(&name)
}

/// A property key as TypeScript source: bare when it is an identifier name, otherwise a
/// double-quoted JSON string.
pub fn property_key(name: &str) -> String {
    if is_identifier_name(name) {
        name.to_string()
    } else {
        serde_json::Value::String(name.to_string()).to_string()
    }
}

/// Turns any string into a valid identifier: runs of other characters become `_`, a
/// leading digit gets a `_` prefix, an empty result becomes `_`, and reserved words get a
/// trailing `_`.
pub fn sanitize_identifier(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut last_underscore = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '$' {
            out.push(c);
            last_underscore = c == '_';
        } else if !last_underscore {
            out.push('_');
            last_underscore = true;
        }
    }
    let trimmed = out.trim_end_matches('_');
    let mut out = if trimmed.is_empty() && !out.is_empty() {
        "_".to_string()
    } else {
        trimmed.to_string()
    };
    if out.is_empty() {
        out.push('_');
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    if is_reserved(&out) {
        out.push('_');
    }
    out
}

/// PascalCase form of a name for type names: `get-user_info` becomes `GetUserInfo`. Words
/// written all in capitals (as in `GITHUB_CREATE_AN_ISSUE`) are capitalized, not shouted:
/// `GithubCreateAnIssue`; words in mixed case (`getURL`) keep their case.
pub fn pascal_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for word in name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let shouting =
            word.bytes().filter(u8::is_ascii_alphabetic).count() > 1 && !word.bytes().any(|b| b.is_ascii_lowercase());
        for (i, c) in word.chars().enumerate() {
            out.push(match (i, shouting) {
                (0, _) => c.to_ascii_uppercase(),
                (_, true) => c.to_ascii_lowercase(),
                (_, false) => c,
            });
        }
    }
    if out.is_empty() {
        out.push('T');
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'T');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(is_identifier_name("foo_bar$1"));
        assert!(!is_identifier_name("1foo"));
        assert!(!is_identifier_name("foo-bar"));
        assert!(!is_identifier_name(""));
        assert_eq!(property_key("foo-bar"), "\"foo-bar\"");
        assert_eq!(property_key("delete"), "delete");
    }

    #[test]
    fn sanitizing() {
        assert_eq!(sanitize_identifier("get-user info"), "get_user_info");
        assert_eq!(sanitize_identifier("1password"), "_1password");
        assert_eq!(sanitize_identifier("delete"), "delete_");
        assert_eq!(sanitize_identifier("!!!"), "_");
        assert_eq!(sanitize_identifier(""), "_");
        assert_eq!(sanitize_identifier("bing-cn-mcp"), "bing_cn_mcp");
        assert_eq!(pascal_case("bing-cn-mcp.search_web"), "BingCnMcpSearchWeb");
        assert_eq!(pascal_case("3d"), "T3d");
        assert_eq!(pascal_case("GITHUB_CREATE_AN_ISSUE"), "GithubCreateAnIssue");
        assert_eq!(pascal_case("getURL"), "GetURL");
        assert_eq!(pascal_case("A_B2"), "AB2");
    }
}
