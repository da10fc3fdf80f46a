// a variable that was never declared
const { issues } = await tools.workspace.list_issues({ state: "open" });
console.log(issues.length);
return result;
