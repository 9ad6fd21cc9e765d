/**
 * Recovery after a crash: archives a stopped server was recording are finalised from what their
 * recording directories hold, and broadcasts it left `started` are marked stopped. In a cluster
 * `skip` leaves out what a live node still runs or another node already takes care of.
 */
type Skip = (record: { id: string; createdAt: number }) => Promise<boolean>;

/** What recovery needs of the archiver and the broadcast service. */
export interface RecoveryTargets {
  archives: { recover(skip?: Skip): Promise<{ recovered: number; failed: number }> };
  broadcasts: { recover(skip?: Skip): Promise<number> };
  skipArchive: Skip | undefined;
  skipBroadcast: Skip | undefined;
  logger: { info(o: object, m?: string): void; warn(o: object, m?: string): void; error(o: object, m?: string): void };
}

/**
 * One recovery pass; never rejects (a failure is logged). `sweep` marks the passes a cluster node
 * repeats to find a dead node's work, logged as such.
 */
export function recoverInterrupted(t: RecoveryTargets, sweep = false): Promise<void> {
  const { logger } = t;
  const archives = t.archives.recover(t.skipArchive).then(
    (r) => r.recovered + r.failed > 0 && logger.info(r, sweep ? 'cluster: archives of a dead node finalised' : 'archives recovered after a restart'),
    (err: Error) => (sweep ? logger.warn({ err: err.message }, 'cluster: archive sweep failed') : logger.error({ err: err.message }, 'archive recovery failed')),
  );
  const broadcasts = () =>
    t.broadcasts.recover(t.skipBroadcast).then(
      (n) => n > 0 && logger.info({ broadcasts: n }, 'broadcasts of a stopped server marked stopped'),
      (err: Error) => logger.warn({ err: err.message }, 'broadcast recovery failed'),
    );
  // A sweep runs them one after the other, as before; at start they run side by side.
  return (sweep ? archives.then(broadcasts) : Promise.all([archives, broadcasts()])).then(() => undefined);
}
