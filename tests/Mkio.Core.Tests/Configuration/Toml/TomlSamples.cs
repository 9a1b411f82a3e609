namespace Mkio.Core.Tests.Configuration.Toml;

/// <summary>TOML documents used by several tests.</summary>
internal static class TomlSamples
{
    /// <summary>
    /// The complete example of CONFIG.md §8: the seed order book written with <c>[[services.orders.ops.new]]</c>
    /// arrays of tables and <c>[tables.x.columns]</c> sub-tables instead of inline notation.
    /// Line 35 is <c>bind = { order_id = "$0.id", status = "$0.status" }</c> of <c>ops.new[1]</c>.
    /// </summary>
    public const string ConfigMdExample = """
port = 8080
host = "0.0.0.0"
db_path = "orders.db"
batch_max_size = 500
batch_max_wait_ms = 2.0

[tables.orders.columns]
id     = "INTEGER PRIMARY KEY AUTOINCREMENT"
side   = "TEXT NOT NULL"
symbol = "TEXT NOT NULL"
qty    = "INTEGER"
price  = "REAL DEFAULT 0"
status = "TEXT DEFAULT 'pending'"

[tables.audit_log]
append_only = true
[tables.audit_log.columns]
id       = "INTEGER PRIMARY KEY AUTOINCREMENT"
event    = "TEXT"
order_id = "INTEGER"
status   = "TEXT"

# One transaction service; the client chooses the op set with "op".
[services.orders]
type = "transaction"

[[services.orders.ops.new]]
table = "orders"
op_type = "insert"
fields = ["side", "symbol", "qty", "price"]
[[services.orders.ops.new]]
table = "audit_log"
op_type = "insert"
defaults = { event = "new" }
bind = { order_id = "$0.id", status = "$0.status" }

# accept / reject / fill / cancel differ only in the status they set.
[[services.orders.ops.accept]]
table = "orders"
op_type = "update"
key = ["id"]
fields = ["status"]
defaults = { status = "accepted" }
[[services.orders.ops.accept]]
table = "audit_log"
op_type = "insert"
defaults = { event = "accepted" }
bind = { order_id = "$0.id", status = "$0.status" }

[[services.orders.ops.reject]]
table = "orders"
op_type = "update"
key = ["id"]
fields = ["status"]
defaults = { status = "rejected" }
[[services.orders.ops.reject]]
table = "audit_log"
op_type = "insert"
defaults = { event = "rejected" }
bind = { order_id = "$0.id", status = "$0.status" }

[[services.orders.ops.fill]]
table = "orders"
op_type = "update"
key = ["id"]
fields = ["status"]
defaults = { status = "filled" }
[[services.orders.ops.fill]]
table = "audit_log"
op_type = "insert"
defaults = { event = "filled" }
bind = { order_id = "$0.id", status = "$0.status" }

[[services.orders.ops.cancel]]
table = "orders"
op_type = "update"
key = ["id"]
fields = ["status"]
defaults = { status = "cancelled" }
[[services.orders.ops.cancel]]
table = "audit_log"
op_type = "insert"
defaults = { event = "cancelled" }
bind = { order_id = "$0.id", status = "$0.status" }

[services.last_trade]            # latest filled price per symbol, negative for sells
type = "subpub"
primary_table = "orders"
key = "symbol"
where = "status == 'filled'"
change_log_size = 10000

[services.last_trade.publish]
symbol = "symbol"
price  = "IF(side == 'Buy', price, -price)"
time   = "_mkio_ref"

[services.audit_feed]
type = "stream"
primary_table = "audit_log"
buffer_size = 10000

[services.all_orders]
type = "query"
primary_table = "orders"
filterable = ["status", "symbol"]
change_log_size = 10000

[static]
"/" = "./static"
""";
}
