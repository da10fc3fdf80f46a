// seen: create_issue({ title }) without the required body
const issue = await tools.workspace.create_issue({ title: "Login button misaligned" });
return issue.id;
