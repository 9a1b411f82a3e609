using System.Reflection;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests;

/// <summary>
/// The conformance run leaves tests out by file (the project file), not by a category filter, so that a run with a
/// test filter leaves them out too. This guard fails when a test categorised <see cref="StoreCategories.SqliteOnly"/>
/// or <see cref="StoreCategories.PgPending"/> is compiled into this project (move it to its class's
/// <c>.SqliteOnly.cs</c> part, or remove its file in the project file), and when the run has no tests at all.
/// </summary>
public sealed class ExclusionGuardTests
{
    [Test]
    public void No_test_left_out_of_the_postgres_run_is_compiled_into_it()
    {
        var excluded = new[] { StoreCategories.SqliteOnly, StoreCategories.PgPending };
        var tests = typeof(ExclusionGuardTests).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly).Select(m => (Type: t, Method: m)))
            .Where(x => x.Method.GetCustomAttributes<TestAttribute>().Any() || x.Method.GetCustomAttributes<TestCaseAttribute>().Any() || x.Method.GetCustomAttributes<TestCaseSourceAttribute>().Any())
            .ToList();
        var categorised = tests
            .Where(x => x.Method.GetCustomAttributes<CategoryAttribute>().Concat(x.Type.GetCustomAttributes<CategoryAttribute>()).Any(c => excluded.Contains(c.Name)))
            .Select(x => $"{x.Type.Name}.{x.Method.Name}")
            .ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(tests, Has.Count.GreaterThan(100), "the linked protocol tests are compiled in");
            Assert.That(categorised, Is.Empty, "tests categorised SqliteOnly or PgPending must be left out by file");
        }
    }
}
