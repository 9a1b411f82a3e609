using System.Text;

namespace Mkio.Cli;

/// <summary>
/// A small RFC 4180 reader (comma separator, <c>"</c> quoting with <c>""</c> escapes, quoted fields may
/// span lines, CRLF or LF line ends), behaving like Python's <c>csv.reader</c> for the files
/// <c>mkio send</c> reads: blank lines are skipped.
/// </summary>
internal static class CsvReader
{
    /// <summary>Parses <paramref name="text"/> into rows of cells.</summary>
    /// <exception cref="FormatException">A quoted field is not terminated.</exception>
    public static List<string[]> Parse(string text)
    {
        var rows = new List<string[]>();
        var row = new List<string>();
        var cell = new StringBuilder();
        var i = 0;
        if (text.Length > 0 && text[0] == '\uFEFF')
        {
            i = 1;
        }

        var line = 1;
        var rowHasContent = false;
        while (i < text.Length)
        {
            var c = text[i];
            if (c == '"' && cell.Length == 0)
            {
                // Quoted field.
                var startLine = line;
                i++;
                while (true)
                {
                    if (i >= text.Length)
                    {
                        throw new FormatException($"unterminated quoted field starting on line {startLine}");
                    }

                    if (text[i] == '"')
                    {
                        if (i + 1 < text.Length && text[i + 1] == '"')
                        {
                            cell.Append('"');
                            i += 2;
                            continue;
                        }

                        i++;
                        break;
                    }

                    if (text[i] == '\n')
                    {
                        line++;
                    }

                    cell.Append(text[i]);
                    i++;
                }

                rowHasContent = true;

                // Anything up to the next separator is appended as-is (as Python's csv module does).
                while (i < text.Length && text[i] is not ',' and not '\r' and not '\n')
                {
                    cell.Append(text[i]);
                    i++;
                }

                continue;
            }

            switch (c)
            {
                case ',':
                    row.Add(cell.ToString());
                    cell.Clear();
                    rowHasContent = true;
                    i++;
                    break;
                case '\r':
                case '\n':
                    EndRow();
                    i += c == '\r' && i + 1 < text.Length && text[i + 1] == '\n' ? 2 : 1;
                    line++;
                    break;
                default:
                    cell.Append(c);
                    rowHasContent = true;
                    i++;
                    break;
            }
        }

        EndRow();
        return rows;

        void EndRow()
        {
            if (rowHasContent || cell.Length > 0)
            {
                row.Add(cell.ToString());
                rows.Add([.. row]);
            }

            row.Clear();
            cell.Clear();
            rowHasContent = false;
        }
    }
}
