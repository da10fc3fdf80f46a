// `id` where `email_id` is declared
const email = await tools.workspace.read_email({ id: 1 });
return email.subject;
