using Mkio.Security;

namespace Mkio.Core.Tests.Security;

/// <summary>The password formats of the users table: bcrypt (all three prefixes) and the pbkdf2 fallback.</summary>
public sealed class MkioPasswordsTests
{
    // PBKDF2-HMAC-SHA256("correct horse", salt 00112233…eeff, 100 000, 32) computed independently (Python hashlib).
    private const string Pbkdf2Vector = "pbkdf2:00112233445566778899aabbccddeeff:349385d8369097aac69c91b9cf79c08cc236bd0eea62faca19643b117ca1f56e";

    [Test]
    public void Pbkdf2_KnownVector_Verifies_WrongPasswordDoesNot()
    {
        Assert.That(MkioPasswords.Verify("correct horse", Pbkdf2Vector), Is.True);
        Assert.That(MkioPasswords.Verify("correct horsE", Pbkdf2Vector), Is.False);
    }

    [TestCase("pbkdf2:00112233445566778899aabbccddeeff")]
    [TestCase("pbkdf2:00112233445566778899aabbccddeeff:349385d8:extra")]
    [TestCase("pbkdf2:zz112233445566778899aabbccddeeff:349385d8369097aac69c91b9cf79c08cc236bd0eea62faca19643b117ca1f56e")]
    [TestCase("pbkdf2:0:349385d8369097aac69c91b9cf79c08cc236bd0eea62faca19643b117ca1f56e")]
    [TestCase("pbkdf2::")]
    [TestCase("correct horse")]
    [TestCase("")]
    [TestCase(null)]
    [TestCase("$2b$12$short")]
    public void MalformedOrPlainText_NeverVerifies(string? stored) =>
        Assert.That(MkioPasswords.Verify("correct horse", stored), Is.False);

    [Test]
    public void Bcrypt_NewHashIsCost12_2b_AndTheOtherPrefixesVerify()
    {
        var hash = MkioPasswords.Hash("s3cret", 4);
        Assert.That(hash, Does.StartWith("$2b$04$").And.Length.EqualTo(60));
        Assert.That(MkioPasswords.Verify("s3cret", hash), Is.True);
        Assert.That(MkioPasswords.Verify("s3creT", hash), Is.False);
        Assert.That(MkioPasswords.Verify("s3cret", "$2a$" + hash[4..]), Is.True);
        Assert.That(MkioPasswords.Verify("s3cret", "$2y$" + hash[4..]), Is.True);
        Assert.That(MkioPasswords.Hash("x"), Does.StartWith("$2b$12$"));
    }

    [Test]
    public void Pbkdf2_NewHash_HasTheStoredShape_AndRoundTrips()
    {
        var hash = MkioPasswords.HashPbkdf2("pw");
        Assert.That(hash, Does.Match("^pbkdf2:[0-9a-f]{32}:[0-9a-f]{64}$"));
        Assert.That(MkioPasswords.Verify("pw", hash), Is.True);
        Assert.That(MkioPasswords.HashPbkdf2("pw"), Is.Not.EqualTo(hash), "a fresh salt each time");
    }
}
