//! Step 3, **types**: the chosen tools' JSON Schemas become TypeScript declarations.

use codemode_typescript::generate_declarations;

use crate::catalog::ToolCatalog;

/// The tools a program may call and their declarations.
pub(super) struct Typed {
    /// The chosen tools (a subset of the run's catalog).
    pub tools: ToolCatalog,
    /// Their TypeScript declarations.
    pub declarations: String,
}

impl Typed {
    /// The step's detail for the report: `42 lines`.
    pub fn detail(&self) -> String {
        format!("{} lines", self.declarations.lines().count())
    }
}

/// Declarations for the tools of `catalog` at `paths`.
pub(super) fn types<'a>(catalog: &ToolCatalog, paths: impl IntoIterator<Item = &'a str>) -> Typed {
    let tools = catalog.subset(paths);
    let declarations = generate_declarations(&tools.signatures()).text;
    Typed { tools, declarations }
}
