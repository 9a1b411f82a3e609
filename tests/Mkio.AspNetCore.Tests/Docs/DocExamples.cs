using System.Text;
using System.Text.RegularExpressions;
using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests.Docs;

/// <summary>One fenced code block of a Markdown page.</summary>
/// <param name="File">Path relative to the repository root (forward slashes).</param>
/// <param name="Line">1-based line of the opening fence.</param>
/// <param name="Language">First word of the info string (lower case), or empty.</param>
/// <param name="Attributes">The rest of the info string, trimmed.</param>
/// <param name="Text">The block's content, with the fence's indentation removed.</param>
public sealed record DocBlock(string File, int Line, string Language, string Attributes, string Text)
{
    public string Where => $"{File}:{Line}";

    public override string ToString() => $"{Where} ```{Language} {Attributes}".TrimEnd();
}

/// <summary>
/// Finds the user documentation (README.md, docs/*.md, the package readmes) and its fenced blocks.
/// The conventions are stated in docs/README.md: ```toml = a complete config, ```json session = a
/// wire transcript, ```mkio-expr = expression lines, "fragment" = counted but not run.
/// </summary>
internal static partial class DocExamples
{
    public const string Fragment = "fragment";
    public const string Session = "session";
    public const string ExpressionLanguage = "mkio-expr";

    /// <summary>The row the ```mkio-expr blocks of docs/expressions.md are evaluated against (shown there as a json fragment).</summary>
    public const string ExpressionRowJson = """{"name": "Alice", "qty": 100, "price": 15.0, "status": "pending", "tag": null, "side": "Buy"}""";

    public static string RepoRoot => Fixtures.RepoRoot;

    /// <summary>The pages users read: the README, docs/*.md and each package's README.md.</summary>
    public static IReadOnlyList<string> Pages
    {
        get
        {
            var root = RepoRoot;
            var pages = new List<string> { Path.Combine(root, "README.md") };
            pages.AddRange(Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Order(StringComparer.Ordinal));
            pages.AddRange(Directory.GetDirectories(Path.Combine(root, "src"))
                .Select(d => Path.Combine(d, "README.md"))
                .Where(File.Exists)
                .Order(StringComparer.Ordinal));
            return pages;
        }
    }

    public static string Relative(string path) => Path.GetRelativePath(RepoRoot, path).Replace('\\', '/');

    public static IReadOnlyList<DocBlock> AllBlocks() => [.. Pages.SelectMany(Blocks)];

    /// <summary>The fenced blocks of one page (``` or longer fences, possibly indented inside lists).</summary>
    public static IEnumerable<DocBlock> Blocks(string path)
    {
        var lines = File.ReadAllLines(path);
        for (var i = 0; i < lines.Length; i++)
        {
            var open = FenceOpen().Match(lines[i]);
            if (!open.Success)
            {
                continue;
            }

            var indent = open.Groups["indent"].Value.Length;
            var fence = open.Groups["fence"].Value;
            var info = open.Groups["info"].Value.Trim();
            var space = info.IndexOf(' ', StringComparison.Ordinal);
            var language = (space < 0 ? info : info[..space]).ToLowerInvariant();
            var attributes = space < 0 ? string.Empty : info[(space + 1)..].Trim();
            var body = new StringBuilder();
            var start = i + 1;
            for (i++; i < lines.Length; i++)
            {
                var trimmed = lines[i].TrimStart();
                if (trimmed.StartsWith(fence, StringComparison.Ordinal) && trimmed.TrimEnd().All(c => c == '`'))
                {
                    break;
                }

                var line = lines[i];
                var cut = 0;
                while (cut < indent && cut < line.Length && line[cut] == ' ')
                {
                    cut++;
                }

                body.Append(line, cut, line.Length - cut).Append('\n');
            }

            yield return new DocBlock(Relative(path), start, language, attributes, body.ToString());
        }
    }

    /// <summary>The lines of a ```mkio-expr block: "expression ⇒ result".</summary>
    public static IEnumerable<(DocBlock Block, int Line, string Expression, string Expected)> ExpressionLines(DocBlock block)
    {
        var lines = block.Text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].Trim().Length == 0)
            {
                continue;
            }

            var arrow = lines[i].LastIndexOf(" ⇒ ", StringComparison.Ordinal);
            if (arrow < 0)
            {
                throw new FormatException($"{block.File}:{block.Line + i + 1}: a ```mkio-expr line must be 'expression ⇒ result': {lines[i]}");
            }

            yield return (block, block.Line + i + 1, lines[i][..arrow].Trim(), lines[i][(arrow + 3)..].Trim());
        }
    }

    /// <summary>Relative Markdown links <c>](target)</c> of a page (no scheme, not mail).</summary>
    public static IEnumerable<(int Line, string Target)> Links(string path)
    {
        var lines = File.ReadAllLines(path);
        var inFence = false;
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                inFence = !inFence;
                continue;
            }

            if (inFence)
            {
                continue;
            }

            foreach (Match m in MarkdownLink().Matches(lines[i]))
            {
                var target = m.Groups["target"].Value;
                if (!target.Contains("://", StringComparison.Ordinal) && !target.StartsWith("mailto:", StringComparison.Ordinal))
                {
                    yield return (i + 1, target);
                }
            }
        }
    }

    /// <summary>GitHub's anchors of a page's headings (lower case; punctuation dropped; spaces become '-').</summary>
    public static HashSet<string> Anchors(string path)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var inFence = false;
        foreach (var line in File.ReadAllLines(path))
        {
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                inFence = !inFence;
                continue;
            }

            var m = Heading().Match(line);
            if (inFence || !m.Success)
            {
                continue;
            }

            var slug = new StringBuilder();
            foreach (var c in m.Groups["title"].Value.Trim().ToLowerInvariant())
            {
                if (char.IsLetterOrDigit(c) || c is '-' or '_')
                {
                    slug.Append(c);
                }
                else if (c == ' ')
                {
                    slug.Append('-');
                }
            }

            anchors.Add(slug.ToString());
        }

        return anchors;
    }

    [GeneratedRegex(@"^(?<indent> *)(?<fence>```+)(?<info>[^`]*)$")]
    private static partial Regex FenceOpen();

    [GeneratedRegex(@"\]\((?<target>[^)\s]+)\)")]
    private static partial Regex MarkdownLink();

    [GeneratedRegex(@"^#{1,6} (?<title>.+)$")]
    private static partial Regex Heading();
}
