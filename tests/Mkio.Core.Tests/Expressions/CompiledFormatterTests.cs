using Mkio.Expressions;
using static Mkio.Core.Tests.Expressions.ExpressionTestHelpers;

namespace Mkio.Core.Tests.Expressions;

public class CompiledFormatterTests
{
    [Test]
    public void Format_SpecVector_ReturnsFieldsInConfiguredOrder()
    {
        var formatter = CompiledFormatter.Compile([new("total", "qty * price"), new("ticker", "UPPER(name)")]);
        var row = formatter.Format(SpecRow);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(row.Schema.Names, Is.EqualTo(new[] { "total", "ticker" }));
            AssertValue(row[0], 1500.0);
            AssertValue(row[1], "ALICE");
        }
    }

    [Test]
    public void Format_ManyRows_ShareOneOutputSchema()
    {
        var formatter = CompiledFormatter.Compile([new("symbol", "name"), new("n", "qty + 1")]);
        var a = formatter.Format(SpecRow);
        var b = formatter.Format(MakeRow(("name", "Bob"), ("qty", 1L)));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(a.Schema, Is.SameAs(formatter.OutputSchema));
            Assert.That(b.Schema, Is.SameAs(formatter.OutputSchema));
            Assert.That(b[0], Is.EqualTo("Bob"));
            Assert.That(b[1], Is.EqualTo(2L));
        }
    }

    [Test]
    public void Format_OutputRow_CanBeFilteredByName()
    {
        var formatter = CompiledFormatter.Compile([new("total", "qty * price")]);
        var filter = CompiledExpression.Compile("total > 1000");
        Assert.That(filter.IsTruthy(formatter.Format(SpecRow)), Is.True);
    }

    [Test]
    public void Compile_InvalidFieldExpression_ErrorNamesField()
    {
        var ex = Assert.Throws<ExpressionException>(() => CompiledFormatter.Compile([new("ok", "name"), new("bad", "qty %")]));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(ex!.Field, Is.EqualTo("bad"));
            Assert.That(ex.Message, Is.EqualTo("Unexpected character: '%' at position 4"));
            Assert.That(ex.IsParseError, Is.True);
            Assert.That(ex.Position, Is.EqualTo(4));
        }
    }

    [Test]
    public void Format_FieldFailsOnRow_ErrorNamesField()
    {
        var formatter = CompiledFormatter.Compile([new("a", "name"), new("b", "missing + 1")]);
        var ex = Assert.Throws<ExpressionException>(() => formatter.Format(SpecRow));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(ex!.Field, Is.EqualTo("b"));
            Assert.That(ex.Message, Is.EqualTo("Unknown field: missing"));
            Assert.That(ex.Kind, Is.EqualTo(ExpressionErrorKind.Evaluation));
        }
    }

    [Test]
    public void Compile_DuplicateField_KeepsFirstPositionAndLastExpression()
    {
        var formatter = CompiledFormatter.Compile([new("a", "1"), new("b", "2"), new("a", "3")]);
        var row = formatter.Format(SpecRow);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(row.Schema.Names, Is.EqualTo(new[] { "a", "b" }));
            Assert.That(row[0], Is.EqualTo(3L));
        }
    }

    [Test]
    public void Compile_WithRegistry_UsesCustomFunctions()
    {
        var functions = new FunctionRegistry();
        functions.Register("DOUBLE", args => (long)args[0]! * 2, 1);
        var formatter = CompiledFormatter.Compile([new("d", "DOUBLE(qty)")], functions);
        Assert.That(formatter.Format(SpecRow)[0], Is.EqualTo(200L));
    }

    [Test]
    public void Format_BigIntegerAndListResults_AreStoredAsIs()
    {
        var formatter = CompiledFormatter.Compile([new("big", "9223372036854775807 + 1"), new("t", "qty > 1")]);
        var row = formatter.Format(SpecRow);
        using (Assert.EnterMultipleScope())
        {
            AssertValue(row[0], Big("9223372036854775808"));
            AssertValue(row[1], true);
        }
    }
}
