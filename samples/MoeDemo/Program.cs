using MoeDemo;

// `dotnet run --project samples/MoeDemo -- --help` lists the options.
return MoeDemoApp.Create().Run(args);
