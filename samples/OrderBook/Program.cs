// The order-book sample: the seed's order_book.mkio.toml, unchanged, served by ASP.NET Core.
// Run from this folder (db_path and [static] resolve against the working directory):
//   dotnet run
var builder = WebApplication.CreateBuilder(args);

builder.Services.AddMkio("mkio.toml");
builder.Services.AddHealthChecks().AddMkio();

var app = builder.Build();

app.MapMkio();
app.MapHealthChecks("/health");

app.Run();
