using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Mkio.Core.Tests.Migration;
using Mkio.Storage;

namespace Mkio.Core.Tests.Storage;

/// <summary>
/// The pragmas of each connection (SERVICES.md §3.1): WAL, <c>synchronous=NORMAL</c>, a 64 MB page cache on the
/// read connections; the write connection of a file database runs no automatic checkpoints and keeps an 8 MB
/// page cache (<see cref="MkioOptions.WriterCacheSizeKib"/>); every connection of a file database maps 1 GiB of it
/// (<see cref="MkioOptions.MmapSizeMib"/>).
/// </summary>
[Parallelizable(ParallelScope.All)]
public sealed class ConnectionPragmaTests
{
    private static string Pragma(SqliteConnection connection, string name)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = "PRAGMA " + name;
        return Convert.ToString(cmd.ExecuteScalar(), CultureInfo.InvariantCulture)!;
    }

    [Test]
    public async Task Open_FileDatabase_WriterHasAn8MbCacheAndNoAutoCheckpoint_ReadersKeep64Mb()
    {
        using var db = new MigrationTestDb();
        await using var database = new MkioDatabase(db.Model(SchemaMigrationTests.Orders), NullLogger.Instance);
        database.Open();

        Assert.Multiple(() =>
        {
            Assert.That(Pragma(database.Writer, "cache_size"), Is.EqualTo("-8000"));
            Assert.That(Pragma(database.Writer, "wal_autocheckpoint"), Is.EqualTo("0"));
            Assert.That(Pragma(database.Writer, "journal_mode"), Is.EqualTo("wal"));
            Assert.That(Pragma(database.Writer, "synchronous"), Is.EqualTo("1"), "NORMAL");
            Assert.That(database.Read(c => Pragma(c, "cache_size")), Is.EqualTo("-64000"));
            Assert.That(database.Read(c => Pragma(c, "journal_mode")), Is.EqualTo("wal"));
            Assert.That(database.Read(c => Pragma(c, "synchronous")), Is.EqualTo("1"), "NORMAL");
            Assert.That(Pragma(database.Writer, "mmap_size"), Is.EqualTo("1073741824"));
            Assert.That(database.Read(c => Pragma(c, "mmap_size")), Is.EqualTo("1073741824"));
        });
    }

    [TestCase(0, "0")]
    [TestCase(16, "16777216")]
    public async Task Open_FileDatabase_MmapSizeMibSetsEveryConnectionsMap(int mib, string bytes)
    {
        using var db = new MigrationTestDb();
        var model = db.Model(SchemaMigrationTests.Orders);
        model.Options.MmapSizeMib = mib;
        await using var database = new MkioDatabase(model, NullLogger.Instance);
        database.Open();

        Assert.That(new[] { Pragma(database.Writer, "mmap_size"), database.Read(c => Pragma(c, "mmap_size")) }, Is.EqualTo(new[] { bytes, bytes }));
    }

    [Test]
    public async Task Open_FileDatabase_WriterCacheSizeKibSetsTheWritersCacheOnly()
    {
        using var db = new MigrationTestDb();
        var model = db.Model(SchemaMigrationTests.Orders);
        model.Options.WriterCacheSizeKib = 64000;
        await using var database = new MkioDatabase(model, NullLogger.Instance);
        database.Open();

        Assert.That(Pragma(database.Writer, "cache_size"), Is.EqualTo("-64000"));
        Assert.That(database.Read(c => Pragma(c, "cache_size")), Is.EqualTo("-64000"));
        model.Options.WriterCacheSizeKib = 300;
        await using var small = new MkioDatabase(model, NullLogger.Instance);
        small.Open();
        Assert.That(Pragma(small.Writer, "cache_size"), Is.EqualTo("-300"));
    }

    [Test]
    public async Task Open_InMemoryDatabase_KeepsThe64MbCacheOnEveryConnection()
    {
        using var db = new MigrationTestDb();
        var model = db.Model(SchemaMigrationTests.Orders);
        model.Options.DbPath = ":memory:";
        await using var database = new MkioDatabase(Mkio.Model.ModelCompiler.Compile(model.Options), NullLogger.Instance);
        database.Open();

        Assert.That(Pragma(database.Writer, "cache_size"), Is.EqualTo("-64000"));
        Assert.That(database.Read(c => Pragma(c, "cache_size")), Is.EqualTo("-64000"));
    }
}
