// calling .filter on the output object
const issues = await tools.workspace.list_issues({ state: "open" });
return issues.filter((i) => i.labels.includes("bug")).length;
