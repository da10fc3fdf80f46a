// an issue id as a string
await tools.workspace.comment_on_issue({ issue_id: "1", text: "Triaged" });
return "ok";
