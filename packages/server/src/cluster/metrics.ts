import type { Registry } from './registry.js';

/**
 * Cluster figures in Prometheus text: this node's (leases held, draining) and the cluster's as
 * the last heartbeat saw the registry (live nodes, and connections, sessions and media load per
 * node and in all), so one scrape of any node shows the whole cluster.
 */
export function clusterMetricsText(registry: Registry, sockets?: { piped: number; relayed: number }): string {
  const nodes = registry.cachedNodes();
  const out: string[] = [];
  const gauge = (name: string, help: string, rows: [string, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const [labels, v] of rows) out.push(`${name}${labels} ${v}`);
  };
  const self = `{node="${registry.nodeId}"}`;
  gauge('tokhost_node_session_leases', 'Session leases this node holds (sessions it owns).', [[self, registry.leaseCount()]]);
  gauge('tokhost_node_draining', '1 while this node drains.', [[self, registry.isDraining() ? 1 : 0]]);
  if (sockets) {
    gauge('tokhost_node_piped_sockets', 'Client sockets this node pipes to the owner of their session (TCP level).', [[self, sockets.piped]]);
    gauge('tokhost_node_relayed_sockets', 'Client sockets this node relays frame by frame to the owner of their session (clients without ?session=).', [[self, sockets.relayed]]);
  }
  gauge('tokhost_cluster_nodes', 'Live nodes in the registry.', [['', nodes.length]]);
  gauge('tokhost_cluster_connections', 'Client connections on all nodes.', [['', nodes.reduce((n, x) => n + x.connections, 0)]]);
  gauge('tokhost_cluster_sessions', 'Sessions with a room on some node.', [['', nodes.reduce((n, x) => n + x.sessions, 0)]]);
  gauge('tokhost_cluster_node_connections', 'Client connections per node.', nodes.map((x) => [`{node="${x.id}"}`, x.connections]));
  gauge('tokhost_cluster_node_media', 'Routed media streams and subscribers per node.', nodes.map((x) => [`{node="${x.id}"}`, x.media]));
  return out.join('\n') + '\n';
}
