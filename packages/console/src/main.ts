/**
 * The Tokhost web console (docs/console.md): sign in with a project's API key and secret or the
 * operator token, then live sessions, archives, broadcasts, SIP calls, webhook deliveries and the
 * server's charts, each loaded again every few seconds. Every figure comes from the REST API or
 * a documented admin route; nothing here has privileges of its own.
 */
import 'uplot/dist/uPlot.min.css';
import './console.css';
import { html, render } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { Api, ApiError, projectPath } from './api.js';
import type { Credentials } from './api.js';
import type { ProjectSummary } from './types.js';
import { ArchivesView } from './views/archives.js';
import { BroadcastsView } from './views/broadcasts.js';
import { ChartsView } from './views/charts.js';
import { SessionsView } from './views/sessions.js';
import { SipView } from './views/sip.js';
import { WebhooksView } from './views/webhooks.js';

const TABS = [
  ['sessions', 'Sessions'],
  ['archives', 'Archives'],
  ['broadcasts', 'Broadcasts'],
  ['sip', 'SIP calls'],
  ['webhooks', 'Webhooks'],
  ['charts', 'Charts'],
] as const;
type Tab = (typeof TABS)[number][0];

// The tab session only (closing the tab signs out): the secret never reaches localStorage.
const STORE_KEY = 'tokhost-console';

function tabFromHash(): Tab {
  const name = location.hash.replace(/^#\/?/, '');
  return (TABS.find(([t]) => t === name)?.[0] ?? 'sessions') as Tab;
}

/** Checks credentials with one REST call; the project list for the operator. */
async function signIn(credentials: Credentials): Promise<{ api: Api; projects: ProjectSummary[] }> {
  const api = new Api(credentials);
  if (credentials.kind === 'project') {
    await api.get(`${projectPath(credentials.apiKey, 'archive')}?count=1`);
    return { api, projects: [{ apiKey: credentials.apiKey, name: '', createdAt: 0 }] };
  }
  const { items: projects } = await api.get<{ items: ProjectSummary[] }>('/v2/admin/projects');
  return { api, projects };
}

function SignIn({ onDone }: { onDone(api: Api, projects: ProjectSummary[]): void }) {
  const [mode, setMode] = useState<'project' | 'operator'>('project');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    const field = (name: string) => String(form.get(name) ?? '').trim();
    const credentials: Credentials = mode === 'project' ? { kind: 'project', apiKey: field('apiKey'), apiSecret: field('apiSecret') } : { kind: 'operator', token: field('token') };
    setBusy(true);
    try {
      const { api, projects } = await signIn(credentials);
      sessionStorage.setItem(STORE_KEY, JSON.stringify(credentials));
      onDone(api, projects);
    } catch (err) {
      setError(err instanceof ApiError && (err.status === 401 || err.status === 403) ? 'These credentials were refused.' : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="signin">
    <h1>Tokhost console</h1>
    <div class="tabs">
      <button class=${mode === 'project' ? 'active' : ''} onClick=${() => setMode('project')}>Project key and secret</button>
      <button class=${mode === 'operator' ? 'active' : ''} onClick=${() => setMode('operator')}>Operator token</button>
    </div>
    <form key=${mode} onSubmit=${submit} data-form=${mode}>
      ${mode === 'project'
        ? html`<label>API key <input name="apiKey" autocomplete="username" required pattern="[0-9A-Za-z\\-]{1,64}" /></label>
            <label>API secret <input name="apiSecret" type="password" autocomplete="current-password" required /></label>`
        : html`<label>Operator token <input name="token" type="password" autocomplete="current-password" required /></label>
            <p class="hint">Printed by <code>tokhost serve</code> at its first start, or made with <code>tokhost operator-token</code>. It sees every project.</p>`}
      <button type="submit" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
      ${error && html`<p class="error" role="alert">${error}</p>`}
    </form>
  </main>`;
}

function App() {
  const [auth, setAuth] = useState<{ api: Api; projects: ProjectSummary[] } | undefined>(undefined);
  const [apiKey, setApiKey] = useState<string | undefined>(undefined);
  const [tab, setTab] = useState<Tab>(tabFromHash());
  const [message, setMessage] = useState<{ text: string; error: boolean } | undefined>(undefined);
  useEffect(() => {
    const onHash = () => setTab(tabFromHash());
    addEventListener('hashchange', onHash);
    const saved = sessionStorage.getItem(STORE_KEY);
    if (saved) {
      signIn(JSON.parse(saved) as Credentials).then(
        (a) => {
          setAuth(a);
          setApiKey(a.projects[0]?.apiKey);
        },
        () => sessionStorage.removeItem(STORE_KEY),
      );
    }
    return () => removeEventListener('hashchange', onHash);
  }, []);
  if (!auth) return html`<${SignIn} onDone=${(api: Api, projects: ProjectSummary[]) => (setAuth({ api, projects }), setApiKey(projects[0]?.apiKey))} />`;
  const operator = auth.api.credentials.kind === 'operator';
  const notify = (text: string, error: boolean) => setMessage({ text, error });
  const props = { api: auth.api, apiKey: apiKey ?? '', notify };
  return html`<div class="app">
    <header class="top">
      <strong>Tokhost</strong>
      <nav>${TABS.filter(([t]) => t !== 'charts' || operator).map(([t, label]) => html`<a href=${`#/${t}`} class=${tab === t ? 'active' : ''} data-tab=${t}>${label}</a>`)}</nav>
      <span class="who">
        ${operator
          ? html`<label>Project <select data-field="project" value=${apiKey} onChange=${(e: Event) => setApiKey((e.target as HTMLSelectElement).value)}>
              ${auth.projects.map((p) => html`<option value=${p.apiKey}>${p.name ? `${p.name} (${p.apiKey})` : p.apiKey}</option>`)}
            </select></label>`
          : html`project <code>${apiKey}</code>`}
        <button data-action="sign-out" onClick=${() => (sessionStorage.removeItem(STORE_KEY), setAuth(undefined))}>Sign out</button>
      </span>
    </header>
    ${message && html`<p class=${message.error ? 'message error' : 'message'} role="status">${message.text}</p>`}
    ${!apiKey && tab !== 'charts'
      ? html`<p class="empty">This server has no project yet: make one with <code>tokhost project create</code>.</p>`
      : tab === 'sessions'
        ? html`<${SessionsView} ...${props} />`
        : tab === 'archives'
          ? html`<${ArchivesView} ...${props} />`
          : tab === 'broadcasts'
            ? html`<${BroadcastsView} ...${props} />`
            : tab === 'sip'
              ? html`<${SipView} ...${props} />`
              : tab === 'webhooks'
                ? html`<${WebhooksView} ...${props} />`
                : html`<${ChartsView} api=${auth.api} />`}
  </div>`;
}

render(html`<${App} />`, document.getElementById('app')!);
