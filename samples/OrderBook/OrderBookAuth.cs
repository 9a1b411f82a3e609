using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Mkio;

namespace OrderBook;

/// <summary>
/// The sample's opt-in login (<c>OrderBook:Auth=true</c>; off by default): every service requires a logged-in
/// user (top-level <c>access = "auth"</c>), and an <see cref="IMkioAuthenticator"/> accepts one demo user,
/// <c>trader</c> / <c>trader</c>, through the mkio <c>auth</c> message. static/login.js shows the login form.
/// A real app keeps its users in <c>_mkio_users</c> (<c>mkio adduser</c>) or checks them elsewhere.
/// </summary>
internal static class OrderBookAuth
{
    /// <summary>The configuration switch.</summary>
    public const string Switch = "OrderBook:Auth";

    /// <summary>The demo user's name and password.</summary>
    public const string DemoUser = "trader";

    /// <summary>Requires a login for every service that declares no <c>access</c> of its own (all of the sample's).</summary>
    /// <param name="options">The sample's options.</param>
    public static void Configure(MkioOptions options) => options.Access = "auth";

    /// <summary>Registers the demo authenticator.</summary>
    /// <param name="services">The app's services.</param>
    public static void AddDemoLogin(IServiceCollection services) => services.AddSingleton<IMkioAuthenticator, DemoAuthenticator>();

    /// <summary>Accepts <c>trader</c> / <c>trader</c> (role <c>trader</c>); anything else is refused with <c>invalid credentials</c>.</summary>
    private sealed class DemoAuthenticator : IMkioAuthenticator
    {
        private static readonly byte[] Expected = Encoding.UTF8.GetBytes(DemoUser + "\n" + DemoUser);

        public ValueTask<MkioLogin> AuthenticateAsync(JsonElement data, CancellationToken cancellationToken)
        {
            var user = Text(data, "username");
            var password = Text(data, "password");
            if (user is null || password is null
                || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(user + "\n" + password), Expected))
            {
                throw new MkioAuthenticationException("invalid credentials");
            }

            return ValueTask.FromResult(new MkioLogin(user, "trader"));
        }

        private static string? Text(JsonElement data, string name) =>
            data.ValueKind == JsonValueKind.Object && data.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
    }
}
