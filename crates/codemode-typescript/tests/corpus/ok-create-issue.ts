// right
const issue = await tools.workspace.create_issue({ title: "Crash", body: "On start", labels: ["bug"] });
return issue.id;
