// assigning to a const
const count = 0;
const { issues } = await tools.workspace.list_issues({ state: "open" });
count = issues.length;
return count;
