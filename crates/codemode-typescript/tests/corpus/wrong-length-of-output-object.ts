// reading .length of the output object
const inbox = await tools.workspace.list_inbox({});
return inbox.length;
