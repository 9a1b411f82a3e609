using System.Security.Cryptography;
using System.Text;

namespace Mkio.Security;

/// <summary>
/// Password hashes of the built-in users table. Verifies the two formats an existing mkio users table holds:
/// bcrypt modular crypt (<c>$2a$</c>, <c>$2b$</c>, <c>$2y$</c>; BCrypt.Net-Next) and the fallback
/// <c>pbkdf2:&lt;salt hex&gt;:&lt;hash hex&gt;</c> (PBKDF2-HMAC-SHA256, 100 000 iterations, 16-byte salt, 32-byte key;
/// .NET's <see cref="Rfc2898DeriveBytes.Pbkdf2(byte[], byte[], int, HashAlgorithmName, int)"/>, compared in constant
/// time). Anything else, including plain text, never verifies. New hashes are bcrypt with cost 12.
/// </summary>
internal static class MkioPasswords
{
    /// <summary>The bcrypt work factor of new hashes.</summary>
    public const int BcryptCost = 12;

    /// <summary>PBKDF2 iterations of the fallback format.</summary>
    public const int Pbkdf2Iterations = 100_000;

    private const int SaltBytes = 16;
    private const int KeyBytes = 32;

    /// <summary>A new bcrypt hash of <paramref name="password"/> (<c>$2b$</c>, cost 12 unless given).</summary>
    public static string Hash(string password, int cost = BcryptCost) =>
        BCrypt.Net.BCrypt.HashPassword(password, BCrypt.Net.BCrypt.GenerateSalt(cost, 'b'));

    /// <summary>A new hash in the fallback format <c>pbkdf2:&lt;salt&gt;:&lt;hash&gt;</c>.</summary>
    public static string HashPbkdf2(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var key = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, Pbkdf2Iterations, HashAlgorithmName.SHA256, KeyBytes);
        return $"pbkdf2:{Convert.ToHexStringLower(salt)}:{Convert.ToHexStringLower(key)}";
    }

    /// <summary>True when <paramref name="password"/> matches <paramref name="stored"/> (bcrypt or pbkdf2); false for any other format.</summary>
    public static bool Verify(string password, string? stored)
    {
        if (string.IsNullOrEmpty(stored))
        {
            return false;
        }

        if (stored.StartsWith("pbkdf2:", StringComparison.Ordinal))
        {
            return VerifyPbkdf2(password, stored);
        }

        if (stored.Length == 60 && (stored.StartsWith("$2a$", StringComparison.Ordinal) || stored.StartsWith("$2b$", StringComparison.Ordinal) || stored.StartsWith("$2y$", StringComparison.Ordinal)))
        {
            try
            {
                return BCrypt.Net.BCrypt.Verify(password, stored);
            }
            catch (BCrypt.Net.SaltParseException)
            {
                return false;
            }
            catch (ArgumentException)
            {
                return false;
            }
        }

        return false;
    }

    private static bool VerifyPbkdf2(string password, string stored)
    {
        var parts = stored.Split(':');
        if (parts.Length != 3 || parts[1].Length == 0 || parts[2].Length == 0 || !IsHex(parts[1]) || !IsHex(parts[2]))
        {
            return false;
        }

        byte[] salt, expected;
        try
        {
            salt = Convert.FromHexString(parts[1]);
            expected = Convert.FromHexString(parts[2]);
        }
        catch (FormatException)
        {
            return false;
        }

        var actual = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, Pbkdf2Iterations, HashAlgorithmName.SHA256, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    private static bool IsHex(string s)
    {
        foreach (var c in s)
        {
            if (!char.IsAsciiHexDigit(c))
            {
                return false;
            }
        }

        return true;
    }
}
