using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Svcnet.ControlPlane.Api;

namespace Svcnet.ControlPlane.Store;

/// <summary>
/// The object store, modelled on kine: SQLite holds the current objects and an append-only change log; one global
/// revision numbers every change and is every object's resourceVersion. All objects are also cached in memory
/// (the state of one node's cluster is small), so reads never touch SQLite. A write is acknowledged only after its
/// SQLite transaction committed with WAL + synchronous=FULL, i.e. after fsync: a crash never loses an
/// acknowledged write. The last <see cref="HistoryLimit"/> changes, and no more than <see cref="HistoryByteLimit"/>
/// bytes of them, stay in the log and in memory to serve watches from an older resourceVersion; anything older
/// answers 410 Expired. Objects over etcd's default request limit (1.5 MiB) are refused like etcd refuses them.
/// </summary>
public sealed class ObjectStore : IDisposable
{
    private readonly SqliteConnection db;
    private readonly System.Threading.Channels.Channel<PendingWrite> queue =
        System.Threading.Channels.Channel.CreateUnbounded<PendingWrite>(new System.Threading.Channels.UnboundedChannelOptions { SingleReader = true });
    private readonly Task writer;
    private readonly Lock stateLock = new();
    private readonly Dictionary<string, SortedDictionary<ObjectKey, JsonObject>> objects = [];
    private readonly LinkedList<WatchEvent> history = new();
    private readonly List<Watcher> watchers = [];
    private readonly List<Action<WatchEvent>> listeners = [];
    private long revision;
    private int queued;
    private long historyBytes;
    private long commitsSinceCompaction;
    private long bytesSinceCompaction;

    /// <summary>etcd's default --max-request-bytes: a larger object is refused ("etcdserver: request is too large").</summary>
    public const int MaxObjectBytes = 1536 * 1024;

    public ObjectStore(string path, int historyLimit = 10_000, long historyByteLimit = DefaultHistoryByteLimit)
    {
        HistoryLimit = historyLimit;
        HistoryByteLimit = historyByteLimit;
        db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        db.Open();
        // Incremental auto-vacuum gives the pages of compacted history back to the file system; a database created
        // before it was set is converted once by a VACUUM (cheap: the live state is small).
        if (ScalarLong("PRAGMA auto_vacuum;") != 2)
        {
            Execute("PRAGMA auto_vacuum=INCREMENTAL;");
            Execute("VACUUM;");
        }
        Execute("PRAGMA journal_mode=WAL;");
        Execute("PRAGMA synchronous=FULL;");
        Execute("""
            CREATE TABLE IF NOT EXISTS objects(resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
              rv INTEGER NOT NULL, value TEXT NOT NULL, PRIMARY KEY(resource, namespace, name)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS log(rv INTEGER PRIMARY KEY, type TEXT NOT NULL, resource TEXT NOT NULL,
              value TEXT NOT NULL, prev TEXT);
            """);
        Load();
        writer = Task.Run(WriterLoopAsync);
    }

    public int HistoryLimit { get; }

    /// <summary>Default byte budget of the retained history (memory and log): 10,000 small objects fit many times.</summary>
    public const long DefaultHistoryByteLimit = 64L * 1024 * 1024;

    /// <summary>Most bytes (serialised objects) of retained history; older changes go even within <see cref="HistoryLimit"/>.</summary>
    public long HistoryByteLimit { get; }

    /// <summary>Bytes of history retained in memory now (for tests and benchmarks).</summary>
    public long HistoryBytes
    {
        get
        {
            lock (stateLock)
            {
                return historyBytes;
            }
        }
    }

    /// <summary>Current revision: the resourceVersion of the latest change.</summary>
    public long Revision
    {
        get
        {
            lock (stateLock)
            {
                return revision;
            }
        }
    }

    /// <summary>Oldest revision a watch may start from (changes after it are all retained).</summary>
    public long OldestWatchableRevision
    {
        get
        {
            lock (stateLock)
            {
                return history.First is null ? revision : history.First.Value.Revision - 1;
            }
        }
    }

    private void Load()
    {
        using (var cmd = db.CreateCommand())
        {
            cmd.CommandText = "SELECT resource, namespace, name, rv, value FROM objects";
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                var obj = Json.Canonical((JsonObject)JsonNode.Parse(r.GetString(4))!);
                Table(r.GetString(0))[new ObjectKey(r.GetString(0), r.GetString(1), r.GetString(2))] = obj;
                revision = Math.Max(revision, r.GetInt64(3));
            }
        }
        using (var cmd = db.CreateCommand())
        {
            cmd.CommandText = "SELECT rv, type, resource, value, prev FROM log WHERE rv > (SELECT IFNULL(MAX(rv), 0) FROM log) - $n ORDER BY rv";
            cmd.Parameters.AddWithValue("$n", HistoryLimit);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                var prev = r.IsDBNull(4) ? null : Json.Canonical((JsonObject)JsonNode.Parse(r.GetString(4))!);
                var e = new WatchEvent(r.GetInt64(0), r.GetString(1), r.GetString(2), Json.Canonical((JsonObject)JsonNode.Parse(r.GetString(3))!), prev);
                Retain(e);
                revision = Math.Max(revision, e.Revision);
            }
        }
    }

    /// <summary>Appends to the in-memory history and drops the oldest changes beyond the count or byte budget.</summary>
    private void Retain(WatchEvent e)
    {
        history.AddLast(e);
        historyBytes += e.ObjectJson.Length;
        while (history.Count > HistoryLimit || (historyBytes > HistoryByteLimit && history.Count > 1))
        {
            historyBytes -= history.First!.Value.ObjectJson.Length;
            history.RemoveFirst();
        }
    }

    private SortedDictionary<ObjectKey, JsonObject> Table(string resource)
    {
        if (!objects.TryGetValue(resource, out var table))
        {
            table = [];
            objects[resource] = table;
        }
        return table;
    }

    public JsonObject? Get(string resource, string ns, string name)
    {
        lock (stateLock)
        {
            return objects.TryGetValue(resource, out var t) && t.TryGetValue(new ObjectKey(resource, ns, name), out var o) ? o : null;
        }
    }

    /// <summary>All objects of a resource (in one namespace or all), sorted by namespace and name, with the revision they are consistent with.</summary>
    public (IReadOnlyList<JsonObject> Items, long Revision) List(string resource, string? ns)
    {
        lock (stateLock)
        {
            if (!objects.TryGetValue(resource, out var t))
            {
                return ([], revision);
            }
            var items = ns is null ? [.. t.Values] : t.Where(p => p.Key.Namespace == ns).Select(p => p.Value).ToList();
            return (items, revision);
        }
    }

    /// <summary>
    /// The objects of a resource (in one namespace or all) as they were at <paramref name="atRevision"/>, sorted, only
    /// those after <paramref name="after"/> (namespace, name): the continuation of a paged list. Rebuilt from the
    /// current objects by undoing the retained changes newer than the revision (each change carries the object
    /// before it). Null when changes after that revision were compacted away, so no consistent answer is possible.
    /// </summary>
    public IReadOnlyList<JsonObject>? ListAt(string resource, string? ns, long atRevision, (string Namespace, string Name) after)
    {
        var start = new ObjectKey(resource, after.Namespace, after.Name);
        lock (stateLock)
        {
            var oldest = history.First is null ? revision : history.First.Value.Revision - 1;
            if (atRevision < oldest)
            {
                return null;
            }
            var snapshot = new SortedDictionary<ObjectKey, JsonObject>();
            if (objects.TryGetValue(resource, out var t))
            {
                foreach (var (key, value) in t)
                {
                    if (key > start && (ns is null || key.Namespace == ns))
                    {
                        snapshot[key] = value;
                    }
                }
            }
            for (var node = history.Last; node is not null && node.Value.Revision > atRevision; node = node.Previous)
            {
                var e = node.Value;
                var key = new ObjectKey(resource, e.Namespace, e.Object.Name());
                if (e.Resource != resource || !(key > start) || (ns is not null && key.Namespace != ns))
                {
                    continue;
                }
                if (e.Type == WatchEvent.Added)
                {
                    snapshot.Remove(key);
                }
                else
                {
                    snapshot[key] = e.Previous!;
                }
            }
            return [.. snapshot.Values];
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> on the single writer, then commits what it staged atomically and durably.
    /// Exceptions from <paramref name="work"/> or the commit leave nothing stored and run the rollback actions.
    /// Concurrent writes are group-committed: the writer runs every queued transaction in order (each sees the
    /// ones before it), then makes the whole group durable with one SQLite commit (one fsync) before any of them
    /// is acknowledged.
    /// </summary>
    /// <param name="work">Reads and stages the writes.</param>
    /// <param name="dryRun">Run everything (validation, allocation) but store nothing: the events show what would be stored.</param>
    /// <param name="cancellationToken">Cancels before the write is queued.</param>
    public Task<IReadOnlyList<WatchEvent>> WriteAsync(Action<StoreTransaction> work, bool dryRun = false, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var pending = new PendingWrite(work) { DryRun = dryRun };
        Interlocked.Increment(ref queued);
        if (!queue.Writer.TryWrite(pending))
        {
            Interlocked.Decrement(ref queued);
            throw new ObjectDisposedException(nameof(ObjectStore));
        }
        return pending.Completion.Task;
    }

    /// <summary>Writes queued and not yet taken by the writer (tests use it to order a write before an event).</summary>
    internal int QueuedWrites => Volatile.Read(ref queued);

    private sealed class PendingWrite(Action<StoreTransaction> work)
    {
        public Action<StoreTransaction> Work { get; } = work;
        public TaskCompletionSource<IReadOnlyList<WatchEvent>> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public StoreTransaction? Transaction { get; set; }
        public bool DryRun { get; init; }
        public List<WatchEvent> Events { get; } = [];
    }

    private async Task WriterLoopAsync()
    {
        var reader = queue.Reader;
        while (await reader.WaitToReadAsync())
        {
            var group = new List<PendingWrite>();
            while (group.Count < MaxGroup && reader.TryRead(out var p))
            {
                Interlocked.Decrement(ref queued);
                group.Add(p);
            }
            CommitGroup(group);
        }
    }

    private const int MaxGroup = 256;

    /// <summary>
    /// A dry run answers with what would have been stored (resourceVersion unchanged) and undoes its allocations;
    /// the answer is given once the group is committed.
    /// </summary>
    private void PrepareDryRun(PendingWrite p, Dictionary<ObjectKey, JsonObject?> overlay)
    {
        var tx = p.Transaction!;
        foreach (var (key, value) in tx.Changes)
        {
            var previous = overlay.TryGetValue(key, out var o) ? o : Get(key.Resource, key.Namespace, key.Name);
            if (value is null && previous is null)
            {
                continue;
            }
            var shown = (JsonObject)(value ?? previous)!.DeepClone();
            var type = value is null ? WatchEvent.Deleted : previous is null ? WatchEvent.Added : WatchEvent.Modified;
            p.Events.Add(new WatchEvent(revision, type, key.Resource, Json.Canonical(shown), previous));
        }
        foreach (var undo in tx.RollbackActions.Reverse())
        {
            undo();
        }
    }

    private void CommitGroup(List<PendingWrite> group)
    {
        var overlay = new Dictionary<ObjectKey, JsonObject?>();
        var next = revision;
        var accepted = new List<PendingWrite>();
        // Answers that depend on the group's staged writes (a 404 or 409 because an earlier transaction of the group
        // deleted or changed the object, a dry run showing it) are held until the group is committed and published:
        // answered earlier, a client could see "not found" and then still read the object (found by the
        // linearizability test), and if the commit failed the answer would describe a state that never existed.
        var refused = new List<(PendingWrite Write, Exception Error)>();
        var dryRuns = new List<PendingWrite>();
        foreach (var p in group)
        {
            var tx = new StoreTransaction(this, overlay);
            p.Transaction = tx;
            try
            {
                p.Work(tx);
                CheckSizes(tx);
            }
            catch (Exception e)
            {
                foreach (var undo in tx.RollbackActions.Reverse())
                {
                    undo();
                }
                refused.Add((p, e));
                continue;
            }
            if (p.DryRun)
            {
                PrepareDryRun(p, overlay);
                dryRuns.Add(p);
                continue;
            }
            foreach (var (key, value) in tx.Changes)
            {
                var previous = overlay.TryGetValue(key, out var o) ? o : Get(key.Resource, key.Namespace, key.Name);
                if (value is null && previous is null)
                {
                    overlay[key] = null;
                    continue;
                }
                next++;
                var rv = next.ToString(System.Globalization.CultureInfo.InvariantCulture);
                var stored = (JsonObject)(value ?? previous)!.DeepClone();
                stored.Metadata()["resourceVersion"] = rv;
                var canonical = Json.Canonical(stored);
                // Later transactions of this group must see the object as it will be stored, with its new
                // resourceVersion: a precondition check against the staged object's old resourceVersion would let
                // two writers with the same resourceVersion both succeed (a lost update).
                overlay[key] = value is null ? null : canonical;
                var type = value is null ? WatchEvent.Deleted : previous is null ? WatchEvent.Added : WatchEvent.Modified;
                p.Events.Add(new WatchEvent(next, type, key.Resource, canonical, previous));
            }
            accepted.Add(p);
        }
        var events = accepted.SelectMany(p => p.Events).ToList();
        try
        {
            if (events.Count > 0)
            {
                Persist(events);
            }
        }
        catch (Exception e)
        {
            foreach (var p in accepted)
            {
                foreach (var undo in p.Transaction!.RollbackActions.Reverse())
                {
                    undo();
                }
                p.Completion.SetException(e);
            }
            // What the refused and dry-run writes saw may include writes that are now rolled back: they fail too.
            foreach (var p in refused.Select(r => r.Write).Concat(dryRuns))
            {
                p.Completion.SetException(e);
            }
            return;
        }
        if (events.Count > 0)
        {
            var now = System.Diagnostics.Stopwatch.GetTimestamp();
            foreach (var e in events)
            {
                e.CommittedTimestamp = now;
            }
            Publish(events);
        }
        foreach (var p in accepted)
        {
            foreach (var action in p.Transaction!.CommitActions)
            {
                action();
            }
            p.Completion.SetResult(p.Events);
        }
        foreach (var (p, error) in refused)
        {
            p.Completion.SetException(error);
        }
        foreach (var p in dryRuns)
        {
            p.Completion.SetResult(p.Events);
        }
    }

    /// <summary>
    /// etcd refuses a request over its limit, and the apiserver passes the error on as a 500 with etcd's message
    /// (what kubectl shows as "Error from server: etcdserver: request is too large"). Checked before anything of the
    /// transaction is staged into the group.
    /// </summary>
    private static void CheckSizes(StoreTransaction tx)
    {
        foreach (var (_, value) in tx.Changes)
        {
            if (value is not null && System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(value, Json.Compact).Length > MaxObjectBytes)
            {
                throw new ApiException(500, "", "etcdserver: request is too large");
            }
        }
    }

    private void Persist(List<WatchEvent> events)
    {
        using var transaction = db.BeginTransaction();
        using var upsert = db.CreateCommand();
        upsert.Transaction = transaction;
        upsert.CommandText = "INSERT OR REPLACE INTO objects(resource, namespace, name, rv, value) VALUES ($r, $ns, $n, $rv, $v)";
        var uR = upsert.Parameters.Add("$r", SqliteType.Text);
        var uNs = upsert.Parameters.Add("$ns", SqliteType.Text);
        var uN = upsert.Parameters.Add("$n", SqliteType.Text);
        var uRv = upsert.Parameters.Add("$rv", SqliteType.Integer);
        var uV = upsert.Parameters.Add("$v", SqliteType.Text);
        using var delete = db.CreateCommand();
        delete.Transaction = transaction;
        delete.CommandText = "DELETE FROM objects WHERE resource = $r AND namespace = $ns AND name = $n";
        var dR = delete.Parameters.Add("$r", SqliteType.Text);
        var dNs = delete.Parameters.Add("$ns", SqliteType.Text);
        var dN = delete.Parameters.Add("$n", SqliteType.Text);
        using var log = db.CreateCommand();
        log.Transaction = transaction;
        log.CommandText = "INSERT INTO log(rv, type, resource, value, prev) VALUES ($rv, $t, $r, $v, $p)";
        var lRv = log.Parameters.Add("$rv", SqliteType.Integer);
        var lT = log.Parameters.Add("$t", SqliteType.Text);
        var lR = log.Parameters.Add("$r", SqliteType.Text);
        var lV = log.Parameters.Add("$v", SqliteType.Text);
        var lP = log.Parameters.Add("$p", SqliteType.Text);
        foreach (var e in events)
        {
            var text = e.Object.ToJsonString();
            if (e.Type == WatchEvent.Deleted)
            {
                dR.Value = e.Resource;
                dNs.Value = e.Namespace;
                dN.Value = e.Object.Name();
                delete.ExecuteNonQuery();
            }
            else
            {
                uR.Value = e.Resource;
                uNs.Value = e.Namespace;
                uN.Value = e.Object.Name();
                uRv.Value = e.Revision;
                uV.Value = text;
                upsert.ExecuteNonQuery();
            }
            lRv.Value = e.Revision;
            lT.Value = e.Type;
            lR.Value = e.Resource;
            lV.Value = text;
            lP.Value = (object?)e.Previous?.ToJsonString() ?? DBNull.Value;
            log.ExecuteNonQuery();
        }
        commitsSinceCompaction += events.Count;
        bytesSinceCompaction += events.Sum(e => (long)e.ObjectJson.Length);
        var compacted = false;
        if (commitsSinceCompaction >= 1000 || bytesSinceCompaction >= HistoryByteLimit / 4)
        {
            // Compaction: the log keeps what the in-memory history keeps (HistoryLimit revisions within the byte
            // budget), like kine's compact-min-retain.
            using var compact = db.CreateCommand();
            compact.Transaction = transaction;
            compact.CommandText = "DELETE FROM log WHERE rv <= $keep";
            compact.Parameters.AddWithValue("$keep", Math.Max(events[^1].Revision - HistoryLimit, OldestWatchableRevision));
            compacted = compact.ExecuteNonQuery() > 0;
            commitsSinceCompaction = 0;
            bytesSinceCompaction = 0;
        }
        transaction.Commit();
        if (compacted)
        {
            Execute("PRAGMA incremental_vacuum;");
        }
    }

    private void Publish(List<WatchEvent> events)
    {
        List<Action<WatchEvent>> toNotify;
        lock (stateLock)
        {
            foreach (var e in events)
            {
                var table = Table(e.Resource);
                var key = new ObjectKey(e.Resource, e.Namespace, e.Object.Name());
                if (e.Type == WatchEvent.Deleted)
                {
                    table.Remove(key);
                }
                else
                {
                    table[key] = e.Object;
                }
                revision = e.Revision;
                Retain(e);
                foreach (var w in watchers)
                {
                    if (w.Matches(e))
                    {
                        w.Offer(e);
                    }
                }
            }
            toNotify = [.. listeners];
        }
        foreach (var e in events)
        {
            foreach (var listener in toNotify)
            {
                listener(e);
            }
        }
    }

    /// <summary>In-process subscribers (controllers); called after each commit, outside locks, in commit order.</summary>
    public void Subscribe(Action<WatchEvent> listener)
    {
        lock (stateLock)
        {
            listeners.Add(listener);
        }
    }

    /// <summary>
    /// Starts a watch. With <paramref name="fromRevision"/> null the current objects are returned as the initial
    /// state and the watcher receives every later change; otherwise it receives every retained change after that
    /// revision, or <see cref="ApiException"/> 410 Expired when those are no longer retained.
    /// </summary>
    public (IReadOnlyList<JsonObject> Initial, long Revision, Watcher Watcher) Watch(string resource, string? ns, long? fromRevision, int capacity = 1000)
    {
        lock (stateLock)
        {
            if (fromRevision is null)
            {
                var (items, rev) = List(resource, ns);
                var w = new Watcher(resource, ns, capacity, Unwatch);
                watchers.Add(w);
                return (items, rev, w);
            }
            var oldest = history.First is null ? revision : history.First.Value.Revision - 1;
            if (fromRevision < oldest)
            {
                throw ApiException.Gone(fromRevision.Value, oldest + 1);
            }
            if (fromRevision > revision)
            {
                // A resourceVersion this store never issued (the client saw another store, e.g. before a data-dir
                // wipe): accepting it would deliver nothing until the revision catches up, and then the wrong changes.
                throw ApiException.TooLargeResourceVersion(fromRevision.Value, revision);
            }
            var backlog = new List<WatchEvent>();
            for (var node = history.Last; node is not null && node.Value.Revision > fromRevision; node = node.Previous)
            {
                backlog.Add(node.Value);
            }
            backlog.Reverse();
            var watcher = new Watcher(resource, ns, capacity + backlog.Count, Unwatch);
            foreach (var e in backlog)
            {
                if (watcher.Matches(e))
                {
                    watcher.Offer(e);
                }
            }
            watchers.Add(watcher);
            return ([], fromRevision.Value, watcher);
        }
    }

    private void Unwatch(Watcher w)
    {
        lock (stateLock)
        {
            watchers.Remove(w);
        }
    }

    /// <summary>Ends every open watch now (their streams finish; clients re-watch); returns how many were open.</summary>
    public int CloseWatchers()
    {
        lock (stateLock)
        {
            var count = watchers.Count;
            foreach (var w in watchers.ToList())
            {
                w.Close();
            }
            watchers.Clear();
            return count;
        }
    }

    public int WatcherCount
    {
        get
        {
            lock (stateLock)
            {
                return watchers.Count;
            }
        }
    }

    private long ScalarLong(string sql)
    {
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private void Execute(string sql)
    {
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    public void Dispose()
    {
        queue.Writer.TryComplete();
        writer.Wait();
        CloseWatchers();
        db.Dispose();
    }
}
