using Mkio.TestUtilities;

namespace Mkio.AspNetCore.Tests;

/// <summary>
/// Puts every host of this test process on PostgreSQL: one shared server for the whole run, a database per host
/// folder (<see cref="MkioTestHost.Store"/>). In the namespace of the linked tests, so it runs before all of them.
/// </summary>
[SetUpFixture]
public sealed class PostgresStoreSetUp
{
    [OneTimeSetUp]
    public async Task StartPostgres()
    {
        MkioTestHost.Store = TestStore.Postgres;
        await PostgresServer.SharedAsync();
    }

    [OneTimeTearDown]
    public void BackToSqlite() => MkioTestHost.Store = TestStore.Sqlite;
}
