using Mkio.Storage;
using Mkio.Storage.Postgres;

namespace Mkio.Core.Tests.Postgres;

/// <summary>Request values into PostgreSQL columns and values read back, as SQLite would store and return them.</summary>
public class PostgresValuesTests
{
    [TestCase(true, "1")]
    [TestCase(false, "0")]
    [TestCase(100.0, "100.0")]
    [TestCase(2.5, "2.5")]
    [TestCase(1e20, "1.0e+20")]
    [TestCase(1e-5, "1.0e-05")]
    [TestCase(0.30000000000000004, "0.3")]
    [TestCase(-1.5e300, "-1.5e+300")]
    [TestCase(double.PositiveInfinity, "Inf")]
    [TestCase(7L, "7")]
    public void Into_text_as_sqlite_text_affinity_stores_it(object value, string stored) =>
        Assert.That(PostgresValues.Coerce(value, PostgresColumnKind.Text, "t.c"), Is.EqualTo(stored));

    [Test]
    public void Booleans_into_numbers_are_one_and_zero()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(PostgresValues.Coerce(true, PostgresColumnKind.Integer, "t.c"), Is.EqualTo(1L));
            Assert.That(PostgresValues.Coerce(true, PostgresColumnKind.Real, "t.c"), Is.EqualTo(1.0));
            Assert.That(PostgresValues.Coerce(false, PostgresColumnKind.Numeric, "t.c"), Is.EqualTo(0m));
        }
    }

    [TestCase("Real")]
    [TestCase("Text")]
    [TestCase("Integer")]
    public void NaN_is_stored_as_null(string kind) =>
        Assert.That(PostgresValues.Coerce(double.NaN, Enum.Parse<PostgresColumnKind>(kind), "t.c"), Is.Null);

    [Test]
    public void Unbindable_and_too_large_values_fail_with_sqlites_texts()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(() => PostgresValues.Parameter(UnbindableValue.Dict, PostgresColumnKind.Text, "t.c", 3),
                Throws.TypeOf<MkioWriteException>().With.Message.EqualTo("Error binding parameter 3: type 'dict' is not supported"));
            Assert.That(() => PostgresValues.Parameter(new TooLargeInteger("99999999999999999999"), PostgresColumnKind.Integer, "t.c", 1),
                Throws.TypeOf<MkioWriteException>().With.Message.EqualTo("Python int too large to convert to SQLite INTEGER"));
        }
    }

    [Test]
    public void A_whole_numeric_reads_as_an_integer_and_a_fraction_as_a_float()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(PostgresValues.FromDatabase(10m), Is.TypeOf<long>().And.EqualTo(10L));
            Assert.That(PostgresValues.FromDatabase(2.5m), Is.TypeOf<double>().And.EqualTo(2.5));
        }
    }
}
