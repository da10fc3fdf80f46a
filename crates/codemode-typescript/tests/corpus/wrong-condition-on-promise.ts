// a property of a Promise in a condition
if (tools.workspace.list_issues({ state: "open" }).issues.length > 0) {
  await tools.workspace.send_message({ channel: "engineering", text: "Bugs need attention" });
}
return "done";
