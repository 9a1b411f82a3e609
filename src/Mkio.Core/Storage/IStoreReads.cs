using Mkio.Data;

namespace Mkio.Storage;

/// <summary>
/// The reads listener services make, over either store: SQLite (<see cref="SqliteReads"/>, the read pool of
/// <see cref="MkioDatabase"/>) or PostgreSQL (<see cref="Postgres.PostgresReads"/>). SQL text is written for
/// SQLite with <c>$p1</c>… parameters; the PostgreSQL side translates it.
/// </summary>
internal interface IStoreReads
{
    /// <summary>Every row of <paramref name="sql"/>.</summary>
    List<Row> Query(string sql, params object?[] parameters);

    /// <summary>The newest <paramref name="limit"/> journal entries of <paramref name="tables"/>, oldest first.</summary>
    List<JournalEntry> ReadJournal(IReadOnlyCollection<string> tables, int limit);

    /// <summary>Whether the journal still holds every change since it began.</summary>
    bool JournalIsComplete();

    /// <summary>The column names <paramref name="sql"/> returns.</summary>
    string[] ResultColumns(string sql);
}

/// <summary><see cref="IStoreReads"/> over the SQLite read pool.</summary>
internal sealed class SqliteReads(MkioDatabase database, Model.MkioModel model) : IStoreReads
{
    public List<Row> Query(string sql, params object?[] parameters) => database.Read(c => MkioDatabase.Query(c, sql, parameters));

    public List<JournalEntry> ReadJournal(IReadOnlyCollection<string> tables, int limit) => database.Read(c => ChangeJournal.Read(c, model, tables, limit));

    public bool JournalIsComplete() => database.Read(ChangeJournal.IsComplete);

    public string[] ResultColumns(string sql) => database.Read(c =>
    {
        using var command = c.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        return ColumnNames(reader);
    });

    /// <summary>The column names of <paramref name="reader"/>'s result.</summary>
    internal static string[] ColumnNames(System.Data.Common.DbDataReader reader)
    {
        var names = new string[reader.FieldCount];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = reader.GetName(i);
        }

        return names;
    }
}
