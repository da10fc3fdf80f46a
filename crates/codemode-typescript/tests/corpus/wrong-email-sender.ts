// `sender` where the output declares `from`
const { emails } = await tools.workspace.list_inbox({});
return emails.map((e) => e.sender);
