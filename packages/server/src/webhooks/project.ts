import type { Store } from '../storage/store.js';
import type { WebhookEvent, WebhookSender } from './index.js';

/** Sends one callback to a project's webhook URL (if it has one); never throws, never blocks. */
export type ProjectCallback = (apiKey: string, event: WebhookEvent) => void;

/**
 * The one way every project callback leaves the server (session monitoring, archive, broadcast
 * and SIP events): the project is looked up per event, so a URL set with the CLI or another node
 * applies at once, and the event is signed with the project's secret and queued in the durable
 * outbox. A store failure is logged and the event dropped; it must not break the caller (a media
 * state change, a SIP transaction).
 */
export function projectCallback(store: Pick<Store, 'getProject'>, sender: WebhookSender, logger: { warn(obj: object, msg?: string): void }): ProjectCallback {
  return (apiKey, event) => {
    let project;
    try {
      project = store.getProject(apiKey);
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'webhook: project lookup failed');
      return;
    }
    if (project?.webhookUrl) sender.send(project.webhookUrl, project.apiSecret, event, apiKey);
  };
}
