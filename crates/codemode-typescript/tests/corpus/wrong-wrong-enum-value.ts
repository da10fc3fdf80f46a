// a value outside the declared enum
const { issues } = await tools.workspace.list_issues({ state: "opened" });
return issues.length;
