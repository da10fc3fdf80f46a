// destructuring a Promise without await
const { emails } = tools.workspace.list_inbox({});
return emails.length;
