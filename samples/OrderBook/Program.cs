// The order-book sample: the seed's order_book.mkio.toml, unchanged, served by ASP.NET Core, with
// versioned orders added in code (OrderHistory.cs: undo and a history panel on the page).
// Its mkio.toml, static/ and appsettings.json are copied next to OrderBook.dll, and the content root
// is that folder, so it runs from any working directory (db_path and [static] resolve against the
// content root; orders.db is created there):
//   dotnet run
//   dotnet bin/Debug/net10.0/OrderBook.dll --urls http://localhost:8080
// With the opt-in login (OrderBookAuth.cs, static/login.js; demo user trader / trader):
//   dotnet run -- --OrderBook:Auth=true        (or the environment variable OrderBook__Auth=true)
using OrderBook;

var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
var auth = builder.Configuration.GetValue<bool>(OrderBookAuth.Switch);

builder.Services.AddMkio("mkio.toml", options =>
{
    OrderHistory.Configure(options);
    if (auth)
    {
        OrderBookAuth.Configure(options);
    }
});
if (auth)
{
    OrderBookAuth.AddDemoLogin(builder.Services);
}

builder.Services.AddHealthChecks().AddMkio();

var app = builder.Build();

app.MapMkio();

// The live admin page. Open to anyone here (the opt-in login below is mkio's, for the page's WebSocket,
// not an HTTP login); a real app protects it:
//   app.MapMkioAdmin("/mkio/admin").RequireAuthorization("admin");
app.MapMkioAdmin("/mkio/admin");
app.MapHealthChecks("/health");

// The page's login script (index.html loads it before app.js): static/login.js when the login is on, else nothing.
var loginScript = Path.Combine(app.Environment.ContentRootPath, "static", "login.js");
app.MapGet("/orderbook/login.js", () => auth
    ? Results.File(loginScript, "text/javascript")
    : Results.Text("// the login is off (OrderBook:Auth)\n", "text/javascript"));

if (auth)
{
    Console.WriteLine($"Login on: every service requires a login; demo user {OrderBookAuth.DemoUser} / {OrderBookAuth.DemoUser}");
}

app.Run();
