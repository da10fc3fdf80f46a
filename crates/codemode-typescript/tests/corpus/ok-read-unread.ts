// right
const { emails } = await tools.workspace.list_inbox({ unread_only: true });
const read = await Promise.all(emails.map((e) => tools.workspace.read_email({ email_id: e.id })));
return read.map((e) => e.subject);
