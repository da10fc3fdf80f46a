// right
const { issues } = await tools.workspace.list_issues({ state: "open" });
const bugs = issues.filter((i) => i.labels.includes("bug"));
if (bugs.length > 0) {
  await tools.workspace.send_message({ channel: "engineering", text: `Bugs: ${bugs.length}` });
}
return { open: issues.length, bugs: bugs.map((b) => b.id) };
