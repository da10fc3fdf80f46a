// seen: list_inbox({...})[0].id without await
const first = tools.workspace.list_inbox({ unread_only: true }).emails[0];
await tools.workspace.read_email({ email_id: first.id });
return first.subject;
