// The order-book sample: the seed's order_book.mkio.toml, unchanged, served by ASP.NET Core, with
// versioned orders added in code (OrderHistory.cs: undo and a history panel on the page).
// Its mkio.toml, static/ and appsettings.json are copied next to OrderBook.dll, and the content root
// is that folder, so it runs from any working directory (db_path and [static] resolve against the
// content root; orders.db is created there):
//   dotnet run
//   dotnet bin/Debug/net10.0/OrderBook.dll --urls http://localhost:8080
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

builder.Services.AddMkio("mkio.toml", OrderBook.OrderHistory.Configure);
builder.Services.AddHealthChecks().AddMkio();

var app = builder.Build();

app.MapMkio();

// The live admin page. Open to anyone here, as the sample has no login; a real app protects it:
//   app.MapMkioAdmin("/mkio/admin").RequireAuthorization("admin");
app.MapMkioAdmin("/mkio/admin");
app.MapHealthChecks("/health");

app.Run();
