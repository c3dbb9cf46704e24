"""Scale-out on Redis: several server processes form one cluster (``REDIS_URL`` set).

Roles, in every process (docs/design.md has the picture; docs/api.md H the guarantees):

* **edge** (``edge.py``): serves this process's SSE clients from local replicas of the cluster's
  groups. A replica's channel is a normal :class:`~backend.hub.fanout.Channel` (same ring, fan-out,
  heartbeats, dead-client rules as single-process mode), fed from Redis: frames arrive by pub/sub,
  gaps are filled from the group's stream, late joiners get the group's snapshot. Admission counts
  clients and groups across the cluster.
* **leader** (``leader.py``): the one process holding a service's upstream lease runs that service's
  real groups -- the Swarm session, or every tracker game's socket -- for the groups the cluster
  wants, and publishes their frames through :class:`~.relay.RelayChannel` (encoded once for the
  whole cluster, fenced by the lease token). It also answers the other processes' feed requests
  (hierarchy, results) and publishes its upstream metrics.

All shared state goes through a :class:`~.store.Store`: :class:`~.redis_store.RedisStore` in a
cluster, :class:`~.store.MemoryStore` (the same semantics in one process) for tests. Without
``REDIS_URL`` none of this runs: the hub serves its clients directly, as it always has.
"""
