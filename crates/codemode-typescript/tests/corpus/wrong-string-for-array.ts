// a string where an array is declared
await tools.workspace.create_issue({ title: "Crash", body: "On start", labels: "bug" });
return "ok";
