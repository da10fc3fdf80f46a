// a namespace that does not exist
await tools.github.create_issue({ title: "Bug", body: "It breaks" });
return "ok";
