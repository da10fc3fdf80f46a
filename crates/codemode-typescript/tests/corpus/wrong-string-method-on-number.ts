// a string method on a number field
const { issues } = await tools.workspace.list_issues({});
return issues.map((i) => i.id.toUpperCase());
