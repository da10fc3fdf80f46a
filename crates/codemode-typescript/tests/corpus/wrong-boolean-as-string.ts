// a boolean argument as a string
const { emails } = await tools.workspace.list_inbox({ unread_only: "true" });
return emails.length;
