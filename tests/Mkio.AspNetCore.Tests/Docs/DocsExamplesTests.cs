using System.Globalization;
using System.Numerics;
using System.Text.Json;
using Mkio.Data;
using Mkio.Expressions;
using Mkio.Model;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Docs;

/// <summary>
/// Keeps the user documentation true: every ```toml block loads and compiles through the real
/// loader and <c>ModelCompiler</c>; every ```json session transcript is replayed against a real
/// server running the order-book sample config; every ```mkio-expr line evaluates to its documented
/// result through the real expression compiler; links resolve; fragments are counted, never run.
/// </summary>
[Parallelizable(ParallelScope.Children)]
public class DocsExamplesTests
{
    /// <summary>The wildcard of transcripts and expected errors: matches any value.</summary>
    private const string Any = "…";

    public static IEnumerable<TestCaseData> TomlBlocks() =>
        DocExamples.AllBlocks()
            .Where(b => b.Language == "toml" && b.Attributes.Length == 0)
            .Select(b => new TestCaseData(b).SetArgDisplayNames(b.Where));

    public static IEnumerable<TestCaseData> ConfigFiles() =>
        Directory.GetFiles(Path.Combine(DocExamples.RepoRoot, "deploy"), "*.toml")
            .Append(Fixtures.OrderBookToml)
            .Select(f => new TestCaseData(new DocBlock(DocExamples.Relative(f), 1, "toml", string.Empty, File.ReadAllText(f)))
                .SetArgDisplayNames(DocExamples.Relative(f)));

    public static IEnumerable<TestCaseData> Sessions() =>
        DocExamples.AllBlocks()
            .Where(b => b.Language == "json" && b.Attributes == DocExamples.Session)
            .Select(b => new TestCaseData(b).SetArgDisplayNames(b.Where));

    public static IEnumerable<TestCaseData> ExpressionLines() =>
        DocExamples.AllBlocks()
            .Where(b => b.Language == DocExamples.ExpressionLanguage)
            .SelectMany(DocExamples.ExpressionLines)
            .Select(l => new TestCaseData(l.Expression, l.Expected).SetArgDisplayNames($"{l.Block.File}:{l.Line} {l.Expression}"));

    public static IEnumerable<TestCaseData> Pages() =>
        DocExamples.Pages.Select(p => new TestCaseData(p).SetArgDisplayNames(DocExamples.Relative(p)));

    [TestCaseSource(nameof(TomlBlocks))]
    [TestCaseSource(nameof(ConfigFiles))]
    public void TomlExample_LoadsAndCompiles_WithoutErrorsOrWarnings(DocBlock block)
    {
        using var dir = new TempDirectory();
        var options = new MkioOptions { SourceName = block.Where };
        TomlConfigLoader.ApplyText(block.Text, block.Where, options);

        // [static] folders resolve against the working directory; give them real folders here.
        for (var i = 0; i < options.Static.Count; i++)
        {
            var route = options.Static[i];
            var folder = Path.Combine(dir.Path, route.Directory);
            Directory.CreateDirectory(folder);
            options.Static[i] = route with { Directory = folder };
        }

        var warnings = options.LoadDiagnostics.Where(d => d.Severity == ConfigSeverity.Warning).Select(d => d.ToString()).ToList();
        var (model, errors) = ModelCompiler.TryCompile(options);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(errors.Select(e => e.ToString()), Is.Empty, $"{block.Where}: the example does not compile");
            Assert.That(warnings, Is.Empty, $"{block.Where}: the example has warnings");
            Assert.That(model, Is.Not.Null);
            Assert.That(options.Tables.Count + options.Services.Count + options.Static.Count + options.ConfigRoutes.Count, Is.Positive, $"{block.Where}: a complete config declares something; mark parts ```toml fragment");
        }
    }

    [TestCaseSource(nameof(Sessions)), CancelAfter(60_000)]
    public async Task JsonSession_AgainstTheOrderBookSample_ProducesTheDocumentedReplies(DocBlock block, CancellationToken ct)
    {
        var steps = ParseSession(block);
        Assert.That(steps.Count(s => s.Send), Is.Positive, $"{block.Where}: a session sends something");
        Assert.That(steps.Count(s => !s.Send), Is.Positive, $"{block.Where}: a session expects something");

        // The sample's config, on a fresh file database in a temp folder; its [static] folder is not needed.
        await using var host = await MkioTestHost.StartAsync(o => o.Static.Clear(), ct, tomlPath: Fixtures.OrderBookToml);
        await using var ws = await host.ConnectAsync("ws", ct);
        var received = new List<JsonElement>();
        foreach (var step in steps)
        {
            if (step.Send)
            {
                await ws.SendAsync(step.Json, cancellationToken: ct);
                continue;
            }

            using var expected = JsonDocument.Parse(step.Json);
            while (true)
            {
                var hit = received.FindIndex(r => Matches(expected.RootElement, r));
                if (hit >= 0)
                {
                    received.RemoveAt(hit);
                    break;
                }

                JsonElement next;
                try
                {
                    next = await ws.ReceiveAsync(ct, TimeSpan.FromSeconds(15));
                }
                catch (TimeoutException)
                {
                    Assert.Fail($"{block.File}:{step.Line}: expected {step.Json}\nreceived but unmatched:\n  {string.Join("\n  ", received.Select(r => r.GetRawText()))}");
                    return;
                }

                received.Add(next.Clone());
            }
        }
    }

    [TestCaseSource(nameof(ExpressionLines))]
    public void ExpressionExample_EvaluatesToTheDocumentedResult(string expression, string expected)
    {
        using var rowJson = JsonDocument.Parse(DocExamples.ExpressionRowJson);
        var columns = rowJson.RootElement.EnumerateObject().ToList();
        var row = new Row(new RowSchema([.. columns.Select(c => c.Name)]), [.. columns.Select(c => Clr(c.Value))]);

        if (expected.StartsWith("error:", StringComparison.Ordinal))
        {
            var message = expected["error:".Length..].Trim();
            var ex = Assert.Throws<ExpressionException>(() => CompiledExpression.Compile(expression).Evaluate(row));
            if (message != Any)
            {
                Assert.That(ex!.Message, Is.EqualTo(message));
            }

            return;
        }

        var actual = CompiledExpression.Compile(expression).Evaluate(row);
        using var want = JsonDocument.Parse(expected);
        var wanted = Clr(want.RootElement);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Normalise(actual)?.GetType(), Is.EqualTo(wanted?.GetType()), $"kind of {expression}");
            Assert.That(Normalise(actual), Is.EqualTo(wanted), expression);
        }
    }

    [TestCaseSource(nameof(Pages))]
    public void Page_LinksResolve_AndNothingPointsOutsideTheRepository(string page)
    {
        var text = File.ReadAllText(page);
        var problems = new List<string>();
        if (text.Contains("../shared", StringComparison.Ordinal))
        {
            problems.Add("points at ../shared (not part of the product)");
        }

        foreach (var (line, target) in DocExamples.Links(page))
        {
            var hash = target.IndexOf('#', StringComparison.Ordinal);
            var file = hash < 0 ? target : target[..hash];
            var anchor = hash < 0 ? null : target[(hash + 1)..];
            var resolved = file.Length == 0 ? page : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(page)!, file));
            if (!File.Exists(resolved) && !Directory.Exists(resolved))
            {
                problems.Add($"line {line}: {target} does not exist");
            }
            else if (anchor is not null && resolved.EndsWith(".md", StringComparison.Ordinal) && !DocExamples.Anchors(resolved).Contains(anchor))
            {
                problems.Add($"line {line}: {target}: no heading with anchor #{anchor}");
            }
        }

        Assert.That(problems, Is.Empty, DocExamples.Relative(page));
    }

    [Test]
    public void Docs_EveryTomlAndJsonBlockIsRunOrMarkedFragment_AndTheCountsAreReported()
    {
        var blocks = DocExamples.AllBlocks();
        var unmarked = blocks
            .Where(b => (b.Language == "toml" && b.Attributes is not ("" or DocExamples.Fragment))
                     || (b.Language == "json" && b.Attributes is not (DocExamples.Session or DocExamples.Fragment)))
            .Select(b => b.ToString())
            .ToList();
        var tomlRun = blocks.Count(b => b.Language == "toml" && b.Attributes.Length == 0);
        var sessions = blocks.Count(b => b.Language == "json" && b.Attributes == DocExamples.Session);
        var expressions = blocks.Where(b => b.Language == DocExamples.ExpressionLanguage).SelectMany(DocExamples.ExpressionLines).Count();
        var fragments = blocks.Count(b => b.Attributes == DocExamples.Fragment);
        var notRun = blocks
            .Where(b => b.Language is not ("toml" or "json" or DocExamples.ExpressionLanguage))
            .GroupBy(b => b.Language.Length == 0 ? "(plain)" : b.Language)
            .Select(g => $"{g.Key} {g.Count()}")
            .Order(StringComparer.Ordinal);
        TestContext.Out.WriteLine(
            $"docs examples: {DocExamples.Pages.Count} pages; {tomlRun} toml configs compiled; {sessions} json sessions replayed; " +
            $"{expressions} expression lines evaluated; {fragments} fragments skipped; not executed: {string.Join(", ", notRun)}");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(unmarked, Is.Empty, "a ```toml block is a complete config or ```toml fragment; a ```json block is ```json session or ```json fragment");

            // Floors, so that a broken extraction cannot pass silently.
            Assert.That(tomlRun, Is.GreaterThanOrEqualTo(10), "toml configs");
            Assert.That(sessions, Is.GreaterThanOrEqualTo(6), "json sessions");
            Assert.That(expressions, Is.GreaterThanOrEqualTo(40), "expression lines");
            Assert.That(File.ReadAllText(Path.Combine(DocExamples.RepoRoot, "docs", "expressions.md")), Does.Contain(DocExamples.ExpressionRowJson),
                "docs/expressions.md shows the row its examples are evaluated against");
        }
    }

    [Test]
    public void Readme_LinksTheDocsPagesUsersNeed()
    {
        var readme = File.ReadAllText(Path.Combine(DocExamples.RepoRoot, "README.md"));
        foreach (var page in new[] { "configuration", "protocol", "expressions", "cli", "deployment", "security", "getting-started", "troubleshooting" })
        {
            Assert.That(readme, Does.Contain($"](docs/{page}.md)"), page);
        }
    }

    [TestCase("Dockerfile")]
    [TestCase("samples/OrderBook/Dockerfile")]
    public void Dockerfile_EveryCopiedPathExistsInTheBuildContext(string dockerfile)
    {
        // Both Dockerfiles are built with the repository root as the context.
        var root = DocExamples.RepoRoot;
        var lines = File.ReadAllLines(Path.Combine(root, dockerfile));
        var copies = lines.Where(l => l.StartsWith("COPY ", StringComparison.Ordinal) && !l.Contains("--from=", StringComparison.Ordinal)).ToList();
        var missing = copies
            .SelectMany(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..^1])
            .Where(src => !File.Exists(Path.Combine(root, src)) && !Directory.Exists(Path.Combine(root, src)))
            .ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(copies, Is.Not.Empty);
            Assert.That(missing, Is.Empty, dockerfile);
            Assert.That(lines, Has.Some.StartsWith("USER "), "runs as a non-root user");
            Assert.That(lines, Has.Some.StartsWith("VOLUME /data"), "declares the data volume");
            Assert.That(lines, Has.Some.StartsWith("HEALTHCHECK "), "has a health check");
            Assert.That(lines.Count(l => l.StartsWith("FROM ", StringComparison.Ordinal)), Is.EqualTo(2), "multi-stage: sdk build, aspnet runtime");
        }
    }

    private static List<(bool Send, string Json, int Line)> ParseSession(DocBlock block)
    {
        var steps = new List<(bool, string, int)>();
        var lines = block.Text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0)
            {
                continue;
            }

            var send = line.StartsWith('→');
            if (!send && !line.StartsWith('←'))
            {
                Assert.Fail($"{block.File}:{block.Line + i + 1}: a session line starts with → (sent) or ← (expected): {line}");
            }

            steps.Add((send, line[1..].Trim(), block.Line + i + 1));
        }

        return steps;
    }

    /// <summary>Exact structural match (key order, number text); the string "…" matches any value.</summary>
    private static bool Matches(JsonElement expected, JsonElement actual)
    {
        if (expected.ValueKind == JsonValueKind.String && expected.GetString() == Any)
        {
            return true;
        }

        if (expected.ValueKind != actual.ValueKind)
        {
            return false;
        }

        switch (expected.ValueKind)
        {
            case JsonValueKind.Object:
                var e = expected.EnumerateObject().ToList();
                var a = actual.EnumerateObject().ToList();
                return e.Count == a.Count && e.Zip(a).All(p => p.First.Name == p.Second.Name && Matches(p.First.Value, p.Second.Value));
            case JsonValueKind.Array:
                return expected.GetArrayLength() == actual.GetArrayLength()
                    && expected.EnumerateArray().Zip(actual.EnumerateArray()).All(p => Matches(p.First, p.Second));
            case JsonValueKind.String:
                return expected.GetString() == actual.GetString();
            case JsonValueKind.Number:
                return expected.GetRawText() == actual.GetRawText();
            default:
                return true;
        }
    }

    /// <summary>A JSON value as the expression engine's CLR value: integers as long (or BigInteger), other numbers as double.</summary>
    private static object? Clr(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => v.GetString(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Null => null,
        JsonValueKind.Number when v.GetRawText().IndexOfAny(['.', 'e', 'E']) < 0 =>
            v.TryGetInt64(out var l) ? (object)l : BigInteger.Parse(v.GetRawText(), CultureInfo.InvariantCulture),
        JsonValueKind.Number => v.GetDouble(),
        _ => throw new FormatException("expression results are scalars: " + v.GetRawText()),
    };

    private static object? Normalise(object? value) => value is BigInteger b && b >= long.MinValue && b <= long.MaxValue ? (long)b : value;
}
