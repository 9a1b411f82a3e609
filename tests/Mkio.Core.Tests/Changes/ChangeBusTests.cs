using Mkio.Changes;
using Mkio.Core.Tests.Storage;
using Mkio.Data;
using Mkio.Model;

namespace Mkio.Core.Tests.Changes;

/// <summary>
/// <see cref="ChangeBus.Publish"/> hands each listener the batch's events of its tables in commit order: the batch's
/// own list when all are its tables, a filtered copy otherwise, and nothing when none is.
/// </summary>
public class ChangeBusTests
{
    private static readonly MkioModel Model = ModelCompiler.Compile(Fixture());

    [Test]
    public void Publish_ListenersByTable_EachGetsItsEventsInOrder()
    {
        var orders = Model.TablesByName["orders"];
        var audit = Model.TablesByName["audit_log"];
        var batch = new List<ChangeEvent> { Event(orders, 1), Event(audit, 2), Event(orders, 3), Event(audit, 4), Event(orders, 5) };
        var bus = new ChangeBus();
        var all = new Recorder(null);
        var onlyOrders = new Recorder(["orders"]);
        var onlyAudit = new Recorder(["audit_log"]);
        var both = new Recorder(["orders", "audit_log"]);
        var none = new Recorder(["other"]);
        foreach (var r in new[] { all, onlyOrders, onlyAudit, both, none })
        {
            bus.Subscribe(r);
        }

        bus.Publish(batch);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(all.Received.Single(), Is.SameAs(batch));
            Assert.That(both.Received.Single(), Is.SameAs(batch), "every event is the listener's: the batch's own list");
            Assert.That(onlyOrders.Received.Single().Select(e => e.Sequence), Is.EqualTo(new long[] { 1, 3, 5 }));
            Assert.That(onlyAudit.Received.Single().Select(e => e.Sequence), Is.EqualTo(new long[] { 2, 4 }));
            Assert.That(none.Received, Is.Empty, "a listener with no events in the batch is not called");
        }
    }

    [Test]
    public void Publish_FirstEventNotTheListeners_LaterOnesKept()
    {
        var orders = Model.TablesByName["orders"];
        var audit = Model.TablesByName["audit_log"];
        var bus = new ChangeBus();
        var onlyOrders = new Recorder(["orders"]);
        bus.Subscribe(onlyOrders);

        bus.Publish([Event(orders, 1), Event(orders, 2), Event(audit, 3), Event(orders, 4)]);
        bus.Publish([Event(audit, 5), Event(orders, 6)]);
        bus.Publish([]);

        Assert.That(onlyOrders.Received.Select(b => b.Select(e => e.Sequence)), Is.EqualTo(new[] { new long[] { 1, 2, 4 }, [6] }));
    }

    private static ChangeEvent Event(TableModel table, long sequence) =>
        new(table, "insert", new Row(new RowSchema(["n"]), [sequence]), "r" + sequence, sequence);

    private static MkioOptions Fixture()
    {
        var o = new MkioOptions { DbPath = ":memory:" };
        StorageTestEngine.FixtureA(o);
        return o;
    }

    private sealed class Recorder(IReadOnlyCollection<string>? tables) : IChangeListener
    {
        public List<IReadOnlyList<ChangeEvent>> Received { get; } = [];

        public IReadOnlyCollection<string>? Tables => tables;

        public void OnCommitted(IReadOnlyList<ChangeEvent> events) => Received.Add(events);
    }
}
