// a bare id where an object is declared
await tools.workspace.close_issue(1);
return "closed";
